package dev.caravan.routing;

import dev.caravan.core.GatewayException;
import dev.caravan.auth.Principal;
import dev.caravan.config.ModelConfig;
import dev.caravan.work.CpuPool;
import org.apache.camel.Exchange;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What one failed attempt means: try the next deployment, cool a rate-limited one down, move to the model's
 * context-window fallbacks, or answer the client now; and what the deployment's breaker learns from it. It only
 * decides; {@link Attempts} acts on the verdict.
 */
final class FailureJudge {

    private static final Duration DEFAULT_COOL_DOWN = Duration.ofSeconds(1);

    private FailureJudge() {
    }

    /** What the deployment's breaker learns from the failure. */
    enum Lesson {
        /** nothing: the failure is not the deployment's (the gateway's own, a busy pool, a rate limit) */
        NONE,
        /** it answered, so it is healthy: the request itself was at fault */
        HEALTHY,
        /** it failed: counts against its breaker */
        FAULT
    }

    /** The judgement; {@link #error()} is what the client is told when nothing after this attempt answers. */
    sealed interface Verdict {
        GatewayException error();

        Lesson lesson();
    }

    /** No other deployment or model would do better: the error answers now. */
    record AnswerNow(GatewayException error, Lesson lesson) implements Verdict {
    }

    /** Try the next deployment (or fallback model); a {@link Lesson#FAULT} is also the deployment's last error. */
    record TryNext(GatewayException error, Lesson lesson) implements Verdict {
    }

    /** Rate-limited: the deployment rests for {@code rest}, then the next deployment is tried. */
    record CoolDown(GatewayException error, Duration rest) implements Verdict {
        @Override
        public Lesson lesson() {
            return Lesson.NONE; // rate-limited is not broken
        }
    }

    /** Too long for this model: only {@code models} (its context-window fallbacks the key may call) are tried next. */
    record FallBack(GatewayException error, List<String> models) implements Verdict {
        @Override
        public Lesson lesson() {
            return Lesson.HEALTHY; // the deployment is fine; the request is too long for it
        }
    }

    /** Judges {@code caught}, the failure of an attempt at {@code model} for {@code principal}. */
    static Verdict judge(Exchange exchange, Throwable caught, ModelConfig model, Principal principal) {
        GatewayException answer = caught instanceof GatewayException g ? g
                : GatewayException.isTranslationFailure(caught) ? GatewayException.untranslatable(exchange, (RuntimeException) caught)
                : new GatewayException(500, "server_error", "internal_error", "The call failed inside the gateway.");
        return judge(caught, answer, model, principal, Instant.now());
    }

    /** Judges {@code caught}, already turned into the client's {@code answer}, at {@code now} (for an HTTP-date). */
    static Verdict judge(Throwable caught, GatewayException answer, ModelConfig model, Principal principal, Instant now) {
        Optional<Duration> retryAfter = RetryAfter.parse(answer.headers().get("Retry-After"),
                model.routing().maxRetryAfter(), now);
        GatewayException error = withRetryAfter(answer, retryAfter); // the client is told the capped wait, or none
        if (!(caught instanceof GatewayException)) {
            // the gateway's own failure (e.g. a deployment route swapped out by a reload): not the deployment's fault;
            // a translator that failed on the client's input answers the 400 now
            return GatewayException.isTranslationFailure(caught) ? new AnswerNow(error, Lesson.NONE)
                    : new TryNext(error, Lesson.NONE);
        }
        if (CpuPool.isBusy(caught)) {
            return new AnswerNow(error, Lesson.NONE); // the gateway is busy, not the deployment: answer the 503 now
        }
        if ("context_length_exceeded".equals(error.code())) {
            List<String> fallbacks = FallbackControls.allowed(principal, model.contextWindowFallbacks());
            return fallbacks.isEmpty() ? new AnswerNow(error, Lesson.HEALTHY) : new FallBack(error, fallbacks);
        }
        if (error.status() == 429) {
            return new CoolDown(error, retryAfter.orElse(min(DEFAULT_COOL_DOWN, model.routing().maxRetryAfter())));
        }
        if (isDeploymentFault(error)) {
            return new TryNext(error, Lesson.FAULT);
        }
        return new AnswerNow(error, Lesson.HEALTHY); // caused by the request itself: no other deployment would do better
    }

    /** Failures that are the deployment's, not the request's: they count against its breaker and are retried. */
    static boolean isDeploymentFault(GatewayException e) {
        return e.status() >= 500;
    }

    /** {@code e} with its Retry-After replaced by the capped wait, or removed when the upstream's was unreadable. */
    private static GatewayException withRetryAfter(GatewayException e, Optional<Duration> wait) {
        String given = e.headers().get("Retry-After");
        if (given == null) {
            return e;
        }
        Map<String, String> headers = new HashMap<>(e.headers());
        if (wait.isPresent()) {
            headers.put("Retry-After", RetryAfter.header(wait.get()));
        } else {
            headers.remove("Retry-After");
        }
        return new GatewayException(e.status(), e.type(), e.code(), e.param(), e.getMessage(), headers);
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
