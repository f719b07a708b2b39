package dev.caravan.cost;

import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.net.http.HttpResponse;
import java.util.Arrays;
import java.util.stream.Collectors;

import static dev.caravan.cost.CostFixtures.sha;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every door that produces tokens is charged, and every door is limited. Each endpoint gets a key whose budget is
 * smaller than one request: the first call is admitted (the budget had room), and if it was charged the second is
 * refused with budget_exceeded. The token count is free: its second call passes the budget and meets the key's rpm.
 */
class EveryEndpointIsChargedTest {

    enum Endpoint {
        CHAT("/v1/chat/completions", "{\"model\":\"priced\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}", false),
        CHAT_STREAM("/v1/chat/completions", "{\"model\":\"priced\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}", false),
        MESSAGES("/v1/messages", "{\"model\":\"priced\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}", true),
        MESSAGES_STREAM("/v1/messages", "{\"model\":\"priced\",\"max_tokens\":20,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}", true),
        EMBEDDINGS("/v1/embeddings", "{\"model\":\"priced\",\"input\":\"hello there\"}", false),
        FALLBACK("/v1/chat/completions", "{\"model\":\"flaky\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}", false),
        COUNT_TOKENS("/v1/messages/count_tokens", "{\"model\":\"priced\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}", true);

        final String path;
        final String body;
        final boolean anthropic;

        Endpoint(String path, String body, boolean anthropic) {
            this.path = path;
            this.body = body;
            this.anthropic = anthropic;
        }

        String key() {
            return "k-" + name().toLowerCase();
        }
    }

    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        String keys = Arrays.stream(Endpoint.values()).map(e -> "  - { id: %s, sha256: \"%s\", limits: { rpm: %d }, budget: { usd: 0.000001, period: 1d } }"
                .formatted(e.name().toLowerCase().replace('_', '-'), sha(e.key()), e == Endpoint.COUNT_TOKENS ? 1 : 100))
                .collect(Collectors.joining("\n"));
        gateway = TestGateway.start("""
                providers:
                  mock: { type: mock }
                  down: { type: mock, failureRate: 1, failureStatus: 503 }
                models:
                  - name: priced
                    deployments: [ { provider: mock, model: priced, price: { input: 1000, output: 1000 } } ]
                  - name: flaky
                    strategy: ordered
                    deployments:
                      - { provider: down, model: flaky-down, price: { input: 1000, output: 1000 } }
                      - { provider: mock, model: flaky-up, price: { input: 1000, output: 1000 } }
                keys:
                %s
                """.formatted(keys));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    private static HttpResponse<String> call(Endpoint e) {
        return e.anthropic
                ? gateway.post(e.path, e.body, "x-api-key", e.key(), "anthropic-version", "2023-06-01", "Content-Type", "application/json")
                : gateway.post(e.path, e.body, "Authorization", "Bearer " + e.key(), "Content-Type", "application/json");
    }

    @ParameterizedTest
    @EnumSource(Endpoint.class)
    void eachEndpointIsChargedAndLimited(Endpoint endpoint) throws Exception {
        CostFixtures.awaitFreshMinute();
        HttpResponse<String> first = call(endpoint);
        assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
        // a stream is charged when it ends, just after its last byte: give the end a moment
        HttpResponse<String> second = null;
        for (int i = 0; i < 50; i++) {
            second = call(endpoint);
            if (second.statusCode() != 200) {
                break;
            }
            assertThat(endpoint).as("only a stream may slip in before its end is charged").isIn(Endpoint.CHAT_STREAM, Endpoint.MESSAGES_STREAM);
            Thread.sleep(20);
        }
        assertThat(second.statusCode()).isEqualTo(429);
        String code = endpoint.anthropic
                ? Json.parseObjectOrNull(second.body()).path("error").path("message").asText()
                : Json.parseObjectOrNull(second.body()).path("error").path("code").asText();
        if (endpoint == Endpoint.COUNT_TOKENS) {
            assertThat(code).as("free, so the budget still has room; the rpm of 1 refuses").containsIgnoringCase("rate limit");
        } else if (endpoint.anthropic) {
            assertThat(code).contains("Budget exceeded");
        } else {
            assertThat(code).isEqualTo("budget_exceeded");
        }
    }
}
