package dev.caravan.policy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.core.http.StreamResponse;
import com.openai.errors.RateLimitException;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.caravan.TestGateway;
import dev.caravan.config.ConfigException;
import dev.caravan.config.ConfigLoader;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The policy chain end to end: a policy registered by this test (ScriptedPolicy) refuses, answers, rewrites and
 * changes requests and answers, changes, holds, drops and stops stream chunks, through HTTP and the openai-java
 * client, and hears every request end exactly once, however it ended.
 */
class PolicyChainTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String AUTH = "Bearer " + TestGateway.MASTER_KEY;
    static final ScriptedPolicy SCRIPT = new ScriptedPolicy();
    static final AtomicInteger CASES = new AtomicInteger();

    static MockWebServer upstream;
    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        PolicyRegistry.shared().register("scripted", settings -> SCRIPT);
        upstream = new MockWebServer();
        upstream.start();
        gateway = TestGateway.start("""
                providers:
                  upstream: { type: openai, baseUrl: "%s" }
                policies:
                  - name: scripted
                    anySetting: 1          # no schema of its own yet: any block is accepted for a registered name
                models:
                  - name: gpt-test
                    deployments: [ { provider: upstream, model: gpt-upstream } ]
                  - name: gpt-unpoliced
                    policies: { scripted: false }
                    deployments: [ { provider: upstream, model: gpt-upstream } ]
                routing:
                  retries: 0
                """.formatted(upstream.url("/v1")));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        upstream.shutdown();
    }

    @AfterEach
    void drainRecordedRequests() throws InterruptedException {
        while (upstream.takeRequest(10, TimeUnit.MILLISECONDS) != null) {
            // next test starts clean
        }
    }

    static String newCase() {
        return "case-" + CASES.incrementAndGet();
    }

    static MockResponse completion(String content) {
        return new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-upstream",
                 "choices":[{"index":0,"message":{"role":"assistant","content":"%s"},"finish_reason":"stop"}],
                 "usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14}}""".formatted(content));
    }

    static ChatCompletionCreateParams ask(String model, String text) {
        return ChatCompletionCreateParams.builder().model(model).addUserMessage(text).build();
    }

    static String body(String model, String text) {
        return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}]}";
    }

    /** The ends heard for one case, once at least {@code count} have arrived (a stream's end comes after its bytes). */
    static Queue<EndFacts> ends(String id, int count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (System.nanoTime() < deadline && SCRIPT.ends.getOrDefault(id, new java.util.ArrayDeque<>()).size() < count) {
            Thread.sleep(10);
        }
        Thread.sleep(100); // a second end, were there one, has time to arrive
        return SCRIPT.ends.getOrDefault(id, new java.util.ArrayDeque<>());
    }

    @Test
    void aRefusalBeforeTheCallIsTheClientsErrorInOpenAiShapeAndTheUpstreamIsNotCalled() throws Exception {
        String id = newCase();
        int calls = upstream.getRequestCount();
        HttpResponse<String> r = gateway.post("/v1/chat/completions", body("gpt-test", "REFUSE " + id), "Authorization", AUTH);

        assertThat(r.statusCode()).isEqualTo(429);
        JsonNode error = JSON.readTree(r.body()).get("error");
        assertThat(error.get("code").asText()).isEqualTo("policy_refused");
        assertThat(error.get("type").asText()).isEqualTo("rate_limit_error");
        assertThat(error.get("message").asText()).isEqualTo("Refused by the scripted policy.");
        assertThat(upstream.getRequestCount()).isEqualTo(calls);
        assertThat(ends(id, 1)).singleElement().satisfies(end -> {
            assertThat(end.outcome()).isEqualTo("failed");
            assertThat(end.status()).isEqualTo(429);
            assertThat(end.errorCode()).isEqualTo("policy_refused");
        });
    }

    @Test
    void theOpenAiClientSeesARefusalAsTheErrorItsStatusMeans() {
        String id = newCase();
        assertThatThrownBy(() -> gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(ask("gpt-test", "REFUSE " + id)))
                .isInstanceOf(RateLimitException.class);
    }

    @Test
    void aRefusalOnTheMessagesApiHasAnthropicsErrorShape() throws Exception {
        String id = newCase();
        HttpResponse<String> r = gateway.post("/v1/messages",
                "{\"model\":\"gpt-test\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"REFUSE " + id + "\"}]}",
                "x-api-key", TestGateway.MASTER_KEY, "anthropic-version", "2023-06-01");

        assertThat(r.statusCode()).isEqualTo(429);
        JsonNode body = JSON.readTree(r.body());
        assertThat(body.get("type").asText()).isEqualTo("error");
        assertThat(body.at("/error/type").asText()).isEqualTo("rate_limit_error");
        assertThat(body.at("/error/message").asText()).isEqualTo("Refused by the scripted policy.");
        assertThat(ends(id, 1)).hasSize(1);
    }

    @Test
    void anAnswerBeforeTheCallSkipsTheUpstream() throws Exception {
        String id = newCase();
        int calls = upstream.getRequestCount();
        ChatCompletion answer = gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(ask("gpt-test", "ANSWER " + id));

        assertThat(answer.choices().get(0).message().content()).hasValue("answered by the policy");
        assertThat(upstream.getRequestCount()).as("the upstream saw no call").isEqualTo(calls);
        assertThat(ends(id, 1)).singleElement().satisfies(end -> {
            assertThat(end.outcome()).isEqualTo("answered");
            assertThat(end.status()).isEqualTo(200);
        });
    }

    @Test
    void anAnswerBeforeTheCallReachesAMessagesClientInAnthropicsShape() throws Exception {
        String id = newCase();
        HttpResponse<String> r = gateway.post("/v1/messages",
                "{\"model\":\"gpt-test\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"ANSWER " + id + "\"}]}",
                "x-api-key", TestGateway.MASTER_KEY, "anthropic-version", "2023-06-01");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(r.body()).at("/content/0/text").asText()).isEqualTo("answered by the policy");
    }

    @Test
    void aChangedRequestIsWhatTheUpstreamReceives() throws Exception {
        String id = newCase();
        upstream.enqueue(completion("fine"));
        gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(ask("gpt-test", "REWRITE " + id));

        RecordedRequest sent = upstream.takeRequest(1, TimeUnit.SECONDS);
        assertThat(sent.getBody().readUtf8()).contains("rewritten by the policy");
    }

    @Test
    void anAfterHookChangesTheWholeAnswer() throws Exception {
        String id = newCase();
        upstream.enqueue(completion("from the upstream"));
        ChatCompletion answer = gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(ask("gpt-test", "CHANGE " + id));

        assertThat(answer.choices().get(0).message().content()).hasValue("changed by the policy");
        assertThat(ends(id, 1)).singleElement().satisfies(end -> {
            assertThat(end.outcome()).isEqualTo("answered");
            assertThat(end.usage().totalTokens()).isEqualTo(14);
        });
    }

    @Test
    void aDecisionThatArrivesLaterResumesTheRequest() throws Exception {
        String id = newCase();
        upstream.enqueue(completion("after the wait"));
        ChatCompletion answer = gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(ask("gpt-test", "LATER " + id));

        assertThat(answer.choices().get(0).message().content()).hasValue("after the wait");
        assertThat(ends(id, 1)).hasSize(1);
    }

    @Test
    void anUpstreamFailureEndsTheRequestOnce() throws Exception {
        String id = newCase();
        upstream.enqueue(new MockResponse().setResponseCode(500).setBody("{\"error\":{\"message\":\"boom\"}}"));
        HttpResponse<String> r = gateway.post("/v1/chat/completions", body("gpt-test", id), "Authorization", AUTH);

        assertThat(r.statusCode()).isGreaterThanOrEqualTo(500);
        assertThat(ends(id, 1)).singleElement().satisfies(end -> {
            assertThat(end.outcome()).isEqualTo("failed");
            assertThat(end.status()).isEqualTo(r.statusCode());
        });
    }

    @Test
    void aPolicySwitchedOffForAModelNeitherRunsNorEnds() throws Exception {
        String id = newCase();
        upstream.enqueue(completion("not refused"));
        ChatCompletion answer = gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(ask("gpt-unpoliced", "REFUSE " + id));

        assertThat(answer.choices().get(0).message().content()).hasValue("not refused");
        assertThat(SCRIPT.beforeRan).doesNotContain(id);
        assertThat(ends(id, 0)).isEmpty();
    }

    static MockResponse sse(String... contents) {
        StringBuilder body = new StringBuilder();
        for (String c : contents) {
            body.append("data: ").append(chunk("\"content\":\"" + c + "\"", null)).append("\n\n");
        }
        body.append("data: ").append(chunk("", "\"stop\"")).append("\n\n");
        body.append("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-upstream\","
                + "\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9}}\n\n");
        body.append("data: [DONE]\n\n");
        return new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(body.toString());
    }

    static String chunk(String delta, String finish) {
        return "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-upstream\",\"choices\":[{\"index\":0,"
                + "\"delta\":{" + delta + "},\"finish_reason\":" + (finish == null ? "null" : finish) + "}]}";
    }

    /** The streamed text as the openai-java client parses it; it returns only once the stream ended well ([DONE]). */
    static String streamed(String model, String text) {
        StringBuilder out = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> stream = gateway.openai(TestGateway.MASTER_KEY).chat().completions()
                .createStreaming(ask(model, text))) {
            stream.stream().forEach(c -> c.choices().forEach(ch -> ch.delta().content().ifPresent(out::append)));
        }
        return out.toString();
    }

    static String streamBody(String text) {
        return "{\"model\":\"gpt-test\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}]}";
    }

    @Test
    void aStreamHookChangesEachChunk() throws Exception {
        String id = newCase();
        upstream.enqueue(sse("Hel", "lo"));
        assertThat(streamed("gpt-test", "UPPER " + id)).isEqualTo("HELLO");
        assertThat(ends(id, 1)).singleElement().satisfies(end -> {
            assertThat(end.outcome()).isEqualTo("completed");
            assertThat(end.usage().totalTokens()).isEqualTo(9);
        });
    }

    @Test
    void aStreamHookHoldsChunksAndReleasesThemInOrder() throws Exception {
        String id = newCase();
        upstream.enqueue(sse("a", "b", "c"));
        assertThat(streamed("gpt-test", "HOLD " + id)).isEqualTo("abc");

        upstream.enqueue(sse("x", "y"));
        HttpResponse<String> raw = gateway.post("/v1/chat/completions", streamBody("HOLD " + newCase()), "Authorization", AUTH);
        assertThat(raw.body()).contains("\"content\":\"x\"", "\"content\":\"y\"").endsWith("data: [DONE]\n\n");
        assertThat(ends(id, 1)).hasSize(1);
    }

    @Test
    void aStreamHookDropsChunksAndTheStreamStillEnds() throws Exception {
        String id = newCase();
        upstream.enqueue(sse("keep ", "drop-me", "drop-me", "this"));
        assertThat(streamed("gpt-test", "DROP " + id)).isEqualTo("keep this");
        assertThat(ends(id, 1)).singleElement().satisfies(end -> assertThat(end.outcome()).isEqualTo("completed"));
    }

    @Test
    void aStreamHookEndsTheStreamWithAnErrorEvent() throws Exception {
        String id = newCase();
        upstream.enqueue(sse("one", "two", "three"));
        HttpResponse<String> r = gateway.post("/v1/chat/completions", streamBody("FAIL " + id), "Authorization", AUTH);

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("\"content\":\"one\"", "policy_stopped").doesNotContain("\"content\":\"two\"", "three");
        assertThat(ends(id, 1)).singleElement().satisfies(end -> {
            assertThat(end.outcome()).isEqualTo("policy_ended");
            assertThat(end.errorCode()).isEqualTo("policy_stopped");
        });
    }

    @Test
    void aStreamingClientAnsweredByAPolicyGetsAWellFormedStreamAndTheUpstreamIsNotCalled() throws Exception {
        String id = newCase();
        int calls = upstream.getRequestCount();
        assertThat(streamed("gpt-test", "ANSWER " + id)).isEqualTo("answered by the policy");
        assertThat(upstream.getRequestCount()).isEqualTo(calls);
        assertThat(ends(id, 1)).singleElement().satisfies(end -> assertThat(end.outcome()).isEqualTo("completed"));

        HttpResponse<String> messages = gateway.post("/v1/messages",
                "{\"model\":\"gpt-test\",\"max_tokens\":10,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"ANSWER "
                        + newCase() + "\"}]}", "x-api-key", TestGateway.MASTER_KEY, "anthropic-version", "2023-06-01");
        assertThat(messages.body()).contains("event: message_start", "answered by the policy", "event: message_stop");
    }

    @Test
    void aClientThatLeavesMidStreamEndsTheRequestOnce() throws Exception {
        String id = newCase();
        StringBuilder body = new StringBuilder("data: " + chunk("\"content\":\"first\"", null) + "\n\n");
        for (int i = 0; i < 50; i++) {
            body.append("data: ").append(chunk("\"content\":\"more\"", null)).append("\n\n");
        }
        // the first event at once, the rest slowly: the client leaves in between
        upstream.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(body.toString())
                .throttleBody(200, 200, TimeUnit.MILLISECONDS));
        try (Socket socket = new Socket("127.0.0.1", gateway.port())) {
            String payload = streamBody(id);
            socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + payload.length() + "\r\n\r\n" + payload)
                    .getBytes(StandardCharsets.US_ASCII));
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            for (String line; (line = in.readLine()) != null && !line.contains("first"); ) {
                // read up to the first event
            }
        }
        assertThat(ends(id, 1)).singleElement().satisfies(end -> assertThat(end.outcome()).isEqualTo("client_closed"));
    }

    @Test
    void anUpstreamThatFailsMidStreamEndsTheRequestOnce() throws Exception {
        String id = newCase();
        upstream.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream")
                .setBody("data: " + chunk("\"content\":\"partial\"", null) + "\n\ndata: {not json\n\n"));
        HttpResponse<String> r = gateway.post("/v1/chat/completions", streamBody(id), "Authorization", AUTH);

        assertThat(r.body()).contains("upstream_bad_response"); // the broken event drops what was queued before it
        assertThat(ends(id, 1)).singleElement().satisfies(end -> assertThat(end.outcome()).isEqualTo("upstream_error"));
    }

    @Test
    void aPolicyNameNothingIsRegisteredUnderIsRefusedAtLoad() {
        ConfigLoader loader = new ConfigLoader(Map.<String, String>of()::get, PolicyRegistry.shared()::knows);
        assertThatThrownBy(() -> loader.parse("gateway.yaml", """
                providers: { mock: { type: mock } }
                policies: [ no-such-policy ]
                models: [ { name: m, deployments: [ { provider: mock, model: m } ] } ]
                """)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("policies[0]: no policy is named 'no-such-policy'");
    }

    @Test
    void aSwitchForAPolicyNotInTheListIsRefusedAtLoad() {
        ConfigLoader loader = new ConfigLoader(Map.<String, String>of()::get, PolicyRegistry.shared()::knows);
        assertThatThrownBy(() -> loader.parse("gateway.yaml", """
                providers: { mock: { type: mock } }
                models: [ { name: m, policies: { scripted: false }, deployments: [ { provider: mock, model: m } ] } ]
                """)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("models[0].policies: 'scripted' is not in the policies list");
    }
}
