package dev.caravan.routing;

import dev.caravan.core.GatewayException;
import dev.caravan.auth.Principal;
import dev.caravan.config.ModelConfig;
import dev.caravan.config.RoutingSettings;
import dev.caravan.routing.FailureJudge.AnswerNow;
import dev.caravan.routing.FailureJudge.CoolDown;
import dev.caravan.routing.FailureJudge.FallBack;
import dev.caravan.routing.FailureJudge.Lesson;
import dev.caravan.routing.FailureJudge.TryNext;
import dev.caravan.routing.FailureJudge.Verdict;
import org.apache.camel.RuntimeCamelException;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** What one failed attempt means for the request and for the deployment's breaker. */
class FailureJudgeTest {

    static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");
    static final ModelConfig MODEL = new ModelConfig("m", List.of(), ModelConfig.DEFAULT_TIMEOUT,
            ModelConfig.DEFAULT_STREAM_IDLE_TIMEOUT, RoutingSettings.DEFAULT, List.of("other"), List.of("long", "secret"));

    static Verdict judge(GatewayException e, Principal principal) {
        return FailureJudge.judge(e, e, MODEL, principal, NOW);
    }

    static GatewayException upstream(int status, String code, Map<String, String> headers) {
        return new GatewayException(status, "t", code, null, "upstream said no", headers);
    }

    @Test
    void serverErrorTriesTheNextDeploymentAndCountsAgainstItsBreaker() {
        Verdict v = judge(upstream(503, null, Map.of()), null);
        assertThat(v).isEqualTo(new TryNext(v.error(), Lesson.FAULT));
    }

    @Test
    void rateLimitCoolsDownForTheCappedRetryAfterAndTellsTheClientTheCappedWait() {
        Verdict v = judge(upstream(429, "rate_limit_exceeded", Map.of("Retry-After", "99999")), null);
        assertThat(v).isInstanceOf(CoolDown.class);
        assertThat(((CoolDown) v).rest()).isEqualTo(Duration.ofSeconds(60));
        assertThat(v.lesson()).isEqualTo(Lesson.NONE);
        assertThat(v.error().headers()).containsEntry("Retry-After", "60");
    }

    @Test
    void rateLimitWithAnUnreadableRetryAfterCoolsDownOneSecondAndTellsTheClientNoWait() {
        Verdict v = judge(upstream(429, null, Map.of("Retry-After", "Infinity")), null);
        assertThat(((CoolDown) v).rest()).isEqualTo(Duration.ofSeconds(1));
        assertThat(v.error().headers()).doesNotContainKey("Retry-After");
    }

    @Test
    void clientErrorAnswersNowAndTheDeploymentCountsAsHealthy() {
        Verdict v = judge(upstream(400, "invalid_request", Map.of()), null);
        assertThat(v).isEqualTo(new AnswerNow(v.error(), Lesson.HEALTHY));
    }

    @Test
    void tooLongMovesOnlyToTheContextWindowFallbacksTheKeyMayCall() {
        Verdict v = judge(upstream(400, "context_length_exceeded", Map.of()), new Principal("k", null, "user", Set.of("m", "long")));
        assertThat(v).isEqualTo(new FallBack(v.error(), List.of("long")));
        assertThat(v.lesson()).isEqualTo(Lesson.HEALTHY);
    }

    @Test
    void tooLongWithNoFallbackTheKeyMayCallAnswersNow() {
        Verdict v = judge(upstream(400, "context_length_exceeded", Map.of()), new Principal("k", null, "user", Set.of("m")));
        assertThat(v).isEqualTo(new AnswerNow(v.error(), Lesson.HEALTHY));
    }

    @Test
    void aTranslatorsFailureAnswersNowWithoutBlamingTheDeployment() {
        GatewayException answer = GatewayException.badRequest("invalid_request", null, "untranslatable");
        Verdict v = FailureJudge.judge(new ClassCastException(), answer, MODEL, null, NOW);
        assertThat(v).isEqualTo(new AnswerNow(answer, Lesson.NONE));
    }

    @Test
    void theGatewaysOwnFailureTriesTheNextDeploymentWithoutBlamingThisOne() {
        GatewayException answer = new GatewayException(500, "server_error", "internal_error", "inside");
        Verdict v = FailureJudge.judge(new RuntimeCamelException("route gone"), answer, MODEL, null, NOW);
        assertThat(v).isEqualTo(new TryNext(answer, Lesson.NONE));
    }
}
