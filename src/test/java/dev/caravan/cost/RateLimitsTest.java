package dev.caravan.cost;

import com.openai.client.OpenAIClient;
import com.openai.core.http.Headers;
import com.openai.core.http.HttpResponseFor;
import com.openai.errors.RateLimitException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

import static dev.caravan.cost.CostFixtures.sha;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** Requests and tokens per minute per key, team and model, as a client sees them: headers, 429s, Retry-After. */
class RateLimitsTest {

    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start("""
                providers:
                  mock: { type: mock }
                models:
                  - name: mock-gpt
                    deployments: [ { provider: mock, model: mock-gpt } ]
                  - name: shared-model
                    limits: { rpm: 2 }
                    deployments: [ { provider: mock, model: shared } ]
                  - name: embed
                    deployments: [ { provider: mock, model: embed } ]
                teams:
                  tight-team: { limits: { rpm: 2 } }
                  loose-team: { limits: { rpm: 100 } }
                keys:
                  - { id: three-a-minute, sha256: "%s", limits: { rpm: 3 } }
                  - { id: in-tight-team, sha256: "%s", team: tight-team, limits: { rpm: 10 } }
                  - { id: tight-in-loose-team, sha256: "%s", team: loose-team, limits: { rpm: 2 } }
                  - { id: hundred-tokens, sha256: "%s", limits: { tpm: 100 } }
                  - { id: model-caller-a, sha256: "%s" }
                  - { id: model-caller-b, sha256: "%s" }
                  - { id: side-doors, sha256: "%s", limits: { rpm: 2 } }
                  - { id: anthropic-caller, sha256: "%s", limits: { rpm: 1 } }
                  - { id: streamer, sha256: "%s", limits: { rpm: 50, tpm: 100000 } }
                  - { id: sdk-user, sha256: "%s", limits: { rpm: 1 } }
                  - { id: long-streamer, sha256: "%s", limits: { tpm: 20 } }
                """.formatted(sha("k-rpm"), sha("k-team"), sha("k-key-tighter"), sha("k-tpm"), sha("k-model-a"),
                sha("k-model-b"), sha("k-side"), sha("k-anthropic"), sha("k-stream"), sha("k-sdk"), sha("k-long-stream")));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    @BeforeEach
    void notAtTheEndOfAMinute() throws InterruptedException {
        CostFixtures.awaitFreshMinute();
    }

    private static HttpResponseFor<ChatCompletion> ask(String key, String model) {
        OpenAIClient client = gateway.openai(key);
        return client.chat().completions().withRawResponse().create(ChatCompletionCreateParams.builder()
                .model(model).addUserMessage("hello there").maxCompletionTokens(10).build());
    }

    @Test
    void aKeyOverItsRequestsPerMinuteGets429WithOpenAiShapeAndRetryAfter() {
        for (int i = 1; i <= 3; i++) {
            HttpResponseFor<ChatCompletion> ok = ask("k-rpm", "mock-gpt");
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(ok.headers().values("x-ratelimit-limit-requests")).containsExactly("3");
            assertThat(ok.headers().values("x-ratelimit-remaining-requests")).containsExactly(Integer.toString(3 - i));
            assertThat(ok.headers().values("x-ratelimit-reset-requests").get(0)).matches("[0-9]+s");
        }
        HttpResponse<String> refused = CostFixtures.chat(gateway, "k-rpm", "mock-gpt");
        assertThat(refused.statusCode()).isEqualTo(429);
        JsonNode error = Json.parseObjectOrNull(refused.body()).get("error");
        assertThat(error.get("code").asText()).isEqualTo("rate_limit_exceeded");
        assertThat(error.get("type").asText()).isEqualTo("requests");
        assertThat(error.get("message").asText()).contains("API key 'three-a-minute'").contains("3 requests per minute");
        long retryAfter = Long.parseLong(refused.headers().firstValue("retry-after").orElseThrow());
        assertThat(retryAfter).isBetween(1L, 60L);
        assertThat(refused.headers().firstValue("x-ratelimit-remaining-requests")).hasValue("0");
        assertThat(refused.body()).doesNotContain("Exception").doesNotContain("at dev.");
        assertThat(gateway.metric("caravan_rate_limited_total{scope=\"key\"}")).isGreaterThanOrEqualTo(1);
    }

    @Test
    void theOfficialClientSeesARateLimitException() {
        ask("k-sdk", "mock-gpt");
        RateLimitException e = catchThrowableOfType(RateLimitException.class, () -> ask("k-sdk", "mock-gpt"));
        assertThat(e.statusCode()).isEqualTo(429);
        assertThat(e.code()).hasValue("rate_limit_exceeded");
        assertThat(e.headers().values("retry-after")).isNotEmpty();
    }

    @Test
    void theTeamsLimitWinsWhenItIsTighterThanTheKeys() {
        assertThat(ask("k-team", "mock-gpt").headers().values("x-ratelimit-limit-requests")).containsExactly("2");
        assertThat(ask("k-team", "mock-gpt").statusCode()).isEqualTo(200);
        HttpResponse<String> refused = CostFixtures.chat(gateway, "k-team", "mock-gpt");
        assertThat(refused.statusCode()).isEqualTo(429);
        assertThat(Json.parseObjectOrNull(refused.body()).path("error").path("message").asText()).contains("team 'tight-team'");
    }

    @Test
    void theKeysLimitWinsWhenItIsTighterThanTheTeams() {
        assertThat(ask("k-key-tighter", "mock-gpt").headers().values("x-ratelimit-limit-requests")).containsExactly("2");
        assertThat(ask("k-key-tighter", "mock-gpt").statusCode()).isEqualTo(200);
        HttpResponse<String> refused = CostFixtures.chat(gateway, "k-key-tighter", "mock-gpt");
        assertThat(refused.statusCode()).isEqualTo(429);
        assertThat(Json.parseObjectOrNull(refused.body()).path("error").path("message").asText())
                .contains("API key 'tight-in-loose-team'");
    }

    @Test
    void tokensPerMinuteRefuseOnceTheRealUsageFillsTheWindow() {
        long used = 0;
        int answered = 0;
        Headers last = null;
        while (answered < 20) {
            HttpResponse<String> r = CostFixtures.chat(gateway, "k-tpm", "mock-gpt");
            if (r.statusCode() == 429) {
                JsonNode error = Json.parseObjectOrNull(r.body()).get("error");
                assertThat(error.get("code").asText()).isEqualTo("rate_limit_exceeded");
                assertThat(error.get("type").asText()).isEqualTo("tokens");
                assertThat(error.get("message").asText()).contains("100 tokens per minute");
                assertThat(r.headers().firstValue("x-ratelimit-limit-tokens")).hasValue("100");
                break;
            }
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("x-ratelimit-limit-tokens")).hasValue("100");
            used += Json.parseObjectOrNull(r.body()).path("usage").path("total_tokens").asLong();
            answered++;
        }
        // admitted while the window had room: the real usage (not the estimate) is what filled it
        assertThat(used).isGreaterThanOrEqualTo(100);
        assertThat(answered).isGreaterThan(1).isLessThan(20);
    }

    @Test
    void aModelsLimitHoldsAcrossEveryCaller() {
        List<Integer> statuses = new ArrayList<>();
        statuses.add(ask("k-model-a", "shared-model").statusCode());
        statuses.add(ask("k-model-b", "shared-model").statusCode());
        HttpResponse<String> third = CostFixtures.chat(gateway, "k-model-a", "shared-model");
        assertThat(statuses).containsExactly(200, 200);
        assertThat(third.statusCode()).isEqualTo(429);
        assertThat(Json.parseObjectOrNull(third.body()).path("error").path("message").asText()).contains("model 'shared-model'");
    }

    @Test
    void embeddingsAndTokenCountsCountAgainstTheSameLimit() {
        HttpResponse<String> embed = gateway.post("/v1/embeddings", "{\"model\":\"embed\",\"input\":\"hello\"}",
                "Authorization", "Bearer k-side", "Content-Type", "application/json");
        assertThat(embed.statusCode()).isEqualTo(200);
        assertThat(embed.headers().firstValue("x-ratelimit-remaining-requests")).hasValue("1");
        HttpResponse<String> count = gateway.post("/v1/messages/count_tokens",
                "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "x-api-key", "k-side", "anthropic-version", "2023-06-01", "Content-Type", "application/json");
        assertThat(count.statusCode()).isEqualTo(200);
        HttpResponse<String> refused = gateway.post("/v1/embeddings", "{\"model\":\"embed\",\"input\":\"hello\"}",
                "Authorization", "Bearer k-side", "Content-Type", "application/json");
        assertThat(refused.statusCode()).isEqualTo(429);
    }

    @Test
    void anthropicClientsGetTheRefusalInAnthropicsShape() {
        String body = "{\"model\":\"mock-gpt\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        assertThat(gateway.post("/v1/messages", body, "x-api-key", "k-anthropic", "anthropic-version", "2023-06-01",
                "Content-Type", "application/json").statusCode()).isEqualTo(200);
        HttpResponse<String> refused = gateway.post("/v1/messages", body, "x-api-key", "k-anthropic",
                "anthropic-version", "2023-06-01", "Content-Type", "application/json");
        assertThat(refused.statusCode()).isEqualTo(429);
        JsonNode json = Json.parseObjectOrNull(refused.body());
        assertThat(json.path("type").asText()).isEqualTo("error");
        assertThat(json.path("error").path("type").asText()).isEqualTo("rate_limit_error");
        assertThat(refused.headers().firstValue("retry-after")).isPresent();
    }

    @Test
    void aStreamCarriesTheRateLimitHeaders() {
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                "{\"model\":\"mock-gpt\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "Authorization", "Bearer k-stream", "Content-Type", "application/json");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("[DONE]");
        assertThat(r.headers().firstValue("x-ratelimit-limit-requests")).hasValue("50");
        assertThat(r.headers().firstValue("x-ratelimit-limit-tokens")).hasValue("100000");
    }

    @Test
    void aStreamThatPassesItsTokensPerMinuteMidwayIsFinishedAndCharged() throws Exception {
        // admitted with room left; its 24-token answer takes the window past 20 while it streams
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                "{\"model\":\"mock-gpt\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"tell me a long story\"}]}",
                "Authorization", "Bearer k-long-stream", "Content-Type", "application/json");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("\"finish_reason\":\"stop\"").contains("[DONE]");
        long total = 0;
        for (String line : r.body().split("\n")) {
            if (line.startsWith("data: {") && line.contains("\"usage\":{")) {
                total = Json.parseObjectOrNull(line.substring(6)).path("usage").path("total_tokens").asLong();
            }
        }
        assertThat(total).as("the whole stream's tokens").isGreaterThan(20);
        // the stream's real usage was settled into the window: the next request finds it full
        HttpResponse<String> next = null;
        for (int i = 0; i < 50; i++) {
            next = CostFixtures.chat(gateway, "k-long-stream", "mock-gpt");
            if (next.statusCode() == 429) {
                break;
            }
            Thread.sleep(20); // the settle runs just after the stream's last byte
        }
        assertThat(next.statusCode()).isEqualTo(429);
        assertThat(Json.parseObjectOrNull(next.body()).path("error").path("type").asText()).isEqualTo("tokens");
    }
}
