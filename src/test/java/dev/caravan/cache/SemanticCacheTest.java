package dev.caravan.cache;

import dev.caravan.TestGateway;
import dev.caravan.config.CacheConfig;
import dev.caravan.core.Json;
import dev.caravan.policy.cache.semantic.SemanticIndex;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The semantic cache through HTTP: the same question in other words gets the stored answer ({@code SEMANTIC}, its
 * similarity, nothing charged), while a question that differs in meaning, scope, system prompt, parameters or length
 * of conversation never does.
 */
class SemanticCacheTest {

    static CacheUpstream upstream;
    static TestGateway gateway;
    static final String RED = "sk-sem-red-" + UUID.randomUUID();
    static final String BLUE = "sk-sem-blue-" + UUID.randomUUID();

    @BeforeAll
    static void start() throws Exception {
        upstream = new CacheUpstream();
        gateway = TestGateway.start("""
                providers:
                  up: { type: openai-compatible, baseUrl: "%s" }
                models:
                  - name: gpt-test
                    retries: 0
                    deployments: [ { provider: up, model: up-model, price: { input: 2.0, output: 8.0 } } ]
                teams:
                  red: {}
                  blue: {}
                keys:
                  - { id: red, sha256: %s, team: red }
                  - { id: blue, sha256: %s, team: blue }
                cache:
                  exact: { ttl: 10m }
                  semantic: { enabled: true, maxTemperature: 0.5 }
                """.formatted(upstream.baseUrl(), ExactCacheTest.sha(RED), ExactCacheTest.sha(BLUE)));
        // the model loads on a background thread at start; until then lookups are exact only
        TestGateway.eventually(() -> {
            String tag = UUID.randomUUID().toString().substring(0, 8);
            ask(RED, "How do I list files in a folder? " + tag, null, null);
            return "SEMANTIC".equals(cache(ask(RED, "How can I list the files in a folder? " + tag, null, null)));
        }, "the semantic cache is ready");
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        upstream.close();
    }

    static HttpResponse<String> ask(String key, String prompt, String system, String extra) {
        String messages = (system == null ? "" : "{\"role\":\"system\",\"content\":\"" + system + "\"},")
                + "{\"role\":\"user\",\"content\":\"" + prompt + "\"}";
        return gateway.post("/v1/chat/completions", "{\"model\":\"gpt-test\"," + (extra == null ? "" : extra + ",")
                        + "\"messages\":[" + messages + "]}",
                "Authorization", "Bearer " + key, "Content-Type", "application/json");
    }

    static String cache(HttpResponse<String> r) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return r.headers().firstValue("x-caravan-cache").orElse(null);
    }

    static String text(HttpResponse<String> r) {
        return Json.parseObjectOrNull(r.body()).at("/choices/0/message/content").asText();
    }

    @Test
    void theDefaultThresholdIsTheOneTheEvaluationChose() {
        assertThat(CacheConfig.Semantic.DEFAULT_THRESHOLD).isEqualTo(SemanticIndex.DEFAULT_THRESHOLD);
    }

    @Test
    void theSameQuestionInOtherWordsGetsTheStoredAnswerForFree() {
        String tag = " (ticket " + UUID.randomUUID().toString().substring(0, 6) + ")";
        int before = upstream.calls.get();
        HttpResponse<String> first = ask(RED, "How do I reverse a list in Python?" + tag, null, null);
        HttpResponse<String> reworded = ask(RED, "how can i reverse a list in python?" + tag, null, null);

        assertThat(upstream.calls.get() - before).isEqualTo(1);
        assertThat(cache(reworded)).isEqualTo("SEMANTIC");
        assertThat(Double.parseDouble(reworded.headers().firstValue("x-caravan-cache-similarity").orElseThrow()))
                .isBetween(0.9, 1.0);
        assertThat(text(reworded)).isEqualTo(text(first));
        assertThat(reworded.headers().firstValue("x-caravan-cost-usd")).hasValue("0");
    }

    @Test
    void aQuestionThatMeansSomethingElseIsNeverAnsweredFromTheCache() {
        String tag = " (ticket " + UUID.randomUUID().toString().substring(0, 6) + ")";
        ask(RED, "How do I enable two-factor authentication?" + tag, null, null);
        int before = upstream.calls.get();
        HttpResponse<String> opposite = ask(RED, "How do I disable two-factor authentication?" + tag, null, null);
        HttpResponse<String> otherNumber = ask(RED, "How do I enable two-factor authentication for 3 users?" + tag, null, null);

        assertThat(cache(opposite)).isEqualTo("MISS");
        assertThat(cache(otherNumber)).isEqualTo("MISS");
        assertThat(text(opposite)).contains("disable");
        assertThat(upstream.calls.get() - before).isEqualTo(2);
    }

    @Test
    void anotherTeamASystemPromptOrOtherParametersAreHardWalls() {
        String tag = " (ticket " + UUID.randomUUID().toString().substring(0, 6) + ")";
        ask(RED, "What is the capital of Australia?" + tag, "Answer briefly.", null);
        String reworded = "Tell me the capital of Australia?" + tag;
        assertThat(cache(ask(RED, reworded, "Answer briefly.", null))).isEqualTo("SEMANTIC");
        assertThat(cache(ask(BLUE, reworded, "Answer briefly.", null))).as("another team").isEqualTo("MISS");
        assertThat(cache(ask(RED, reworded, "Answer in French.", null))).as("another system prompt").isEqualTo("MISS");
        assertThat(cache(ask(RED, reworded, "Answer briefly.", "\"max_tokens\":7"))).as("other parameters").isEqualTo("MISS");
    }

    @Test
    void aHotRequestOrALongConversationNeverUsesTheSemanticCache() {
        String tag = " (ticket " + UUID.randomUUID().toString().substring(0, 6) + ")";
        ask(RED, "What is a monad?" + tag, null, "\"temperature\":0.9");
        assertThat(cache(ask(RED, "what's a monad?" + tag, null, "\"temperature\":0.9"))).isEqualTo("MISS");
        String longer = "{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"},"
                + "{\"role\":\"user\",\"content\":\"ok\"},{\"role\":\"assistant\",\"content\":\"sure\"},";
        String body = "{\"model\":\"gpt-test\",\"messages\":[" + longer + "{\"role\":\"user\",\"content\":\"%s\"}]}";
        gateway.post("/v1/chat/completions", body.formatted("What is a functor?" + tag), "Authorization", "Bearer " + RED,
                "Content-Type", "application/json");
        HttpResponse<String> r = gateway.post("/v1/chat/completions", body.formatted("what's a functor?" + tag),
                "Authorization", "Bearer " + RED, "Content-Type", "application/json");
        assertThat(cache(r)).isEqualTo("MISS");
    }

    @Test
    void aSemanticHitStreamsToAStreamingClient() {
        String tag = " (ticket " + UUID.randomUUID().toString().substring(0, 6) + ")";
        HttpResponse<String> first = ask(RED, "How do I sort a dictionary by value?" + tag, null, null);
        HttpResponse<String> streamed = ask(RED, "How can I sort a dictionary by value?" + tag, null, "\"stream\":true");

        assertThat(cache(streamed)).isEqualTo("SEMANTIC");
        assertThat(streamed.body().trim()).endsWith("data: [DONE]");
        StringBuilder text = new StringBuilder();
        for (String line : streamed.body().split("\n")) {
            if (line.startsWith("data: {")) {
                text.append(Json.parseObjectOrNull(line.substring(6)).at("/choices/0/delta/content").asText(""));
            }
        }
        assertThat(text.toString()).isEqualTo(text(first));
    }
}
