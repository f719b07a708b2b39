package dev.caravan;

import com.openai.client.OpenAIClient;
import com.openai.core.http.HttpResponseFor;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import okhttp3.mockwebserver.SocketPolicy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fault injection: deployment "a" fails in one way after another, "b" is healthy. Clients, through the official
 * OpenAI SDK, must not notice; the breaker of "a" must open, keep traffic off it, probe it, and close again.
 */
class FailoverTest {

    static MockWebServer a;
    static MockWebServer b;
    static final AtomicInteger callsToA = new AtomicInteger();
    static volatile Supplier<MockResponse> behaviourOfA;
    static TestGateway gateway;
    static OpenAIClient client;

    static final String OK = """
            {"id":"c","object":"chat.completion","created":1,"model":"%s","choices":[{"index":0,
             "message":{"role":"assistant","content":"from %s"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}""";

    static String sse(String who) {
        StringBuilder s = new StringBuilder();
        for (String w : new String[]{"from ", who}) {
            s.append("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"")
                    .append(w).append("\"},\"finish_reason\":null}]}\n\n");
        }
        s.append("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
        return s.append("data: [DONE]\n\n").toString();
    }

    static MockResponse healthy(RecordedRequest r, String who) {
        boolean stream = r.getBody().clone().readUtf8().contains("\"stream\":true");
        return stream ? new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(sse(who))
                : new MockResponse().setHeader("Content-Type", "application/json").setBody(OK.formatted(who, who));
    }

    @BeforeAll
    static void start() throws Exception {
        a = new MockWebServer();
        a.setDispatcher(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest r) {
                callsToA.incrementAndGet();
                MockResponse scripted = behaviourOfA.get();
                return scripted != null ? scripted : healthy(r, "a");
            }
        });
        a.start();
        b = new MockWebServer();
        b.setDispatcher(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest r) {
                return healthy(r, "b");
            }
        });
        b.start();
        gateway = TestGateway.start("""
                providers:
                  a: { type: openai, baseUrl: "%s" }
                  b: { type: openai, baseUrl: "%s" }
                  refusing: { type: openai, baseUrl: "http://127.0.0.1:%d/v1" }
                routing:
                  strategy: ordered
                  retries: 1
                  backoff: { initial: 10ms, max: 50ms }
                models:
                  - name: duo
                    timeout: 300ms
                    breaker: { minimumCalls: 1000, window: 1000 }
                    deployments: [ { id: a, provider: a, model: m }, { id: b, provider: b, model: m } ]
                  - name: duo-refused
                    deployments: [ { id: dead, provider: refusing, model: m }, { id: b, provider: b, model: m } ]
                  - name: guarded
                    timeout: 300ms
                    breaker: { window: 4, minimumCalls: 4, failureRateThreshold: 50, openDuration: 1s }
                    deployments: [ { id: a-guarded, provider: a, model: m }, { id: b-guarded, provider: b, model: m } ]
                """.formatted(a.url("/v1"), b.url("/v1"), TestGateway.freePort()));
        client = gateway.openai(TestGateway.MASTER_KEY);
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        a.shutdown();
        b.shutdown();
    }

    @BeforeEach
    void healthyByDefault() throws InterruptedException {
        behaviourOfA = () -> null;
        callsToA.set(0);
        long deadline = System.currentTimeMillis() + 3000; // a rate limit of the previous test cools down first
        while (gateway.healthDeployments().contains("\"coolingDown\":true") && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
        }
    }

    enum Failure {
        SERVER_ERROR(() -> new MockResponse().setResponseCode(500).setBody("{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}")),
        OVERLOADED_WITH_RETRY_AFTER(() -> new MockResponse().setResponseCode(503).setHeader("Retry-After", "1").setBody("busy")),
        RATE_LIMITED_WITH_RETRY_AFTER(() -> new MockResponse().setResponseCode(429).setHeader("Retry-After", "1")
                .setBody("{\"error\":{\"message\":\"slow down\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}")),
        RATE_LIMITED_WITHOUT_RETRY_AFTER(() -> new MockResponse().setResponseCode(429).setBody("{\"error\":{\"message\":\"slow down\"}}")),
        BAD_CREDENTIAL(() -> new MockResponse().setResponseCode(401).setBody("{\"error\":{\"message\":\"Incorrect API key\"}}")),
        CREDENTIAL_NOT_ALLOWED(() -> new MockResponse().setResponseCode(403)
                .setBody("{\"error\":{\"message\":\"Project does not have access to model\",\"type\":\"invalid_request_error\",\"code\":\"model_not_found\"}}")),
        HANGS_PAST_THE_TIMEOUT(() -> new MockResponse().setHeadersDelay(2, TimeUnit.SECONDS).setBody("late")),
        GARBAGE(() -> new MockResponse().setHeader("Content-Type", "text/html").setBody("<html>oops</html>")),
        DROPS_THE_CONNECTION(() -> new MockResponse().setSocketPolicy(SocketPolicy.DISCONNECT_AFTER_REQUEST));

        final Supplier<MockResponse> response;

        Failure(Supplier<MockResponse> response) {
            this.response = response;
        }
    }

    static ChatCompletionCreateParams chat(String model) {
        return ChatCompletionCreateParams.builder().model(model).addUserMessage("hi").build();
    }

    @ParameterizedTest
    @EnumSource(Failure.class)
    void oneFailingDeploymentIsInvisibleToClients(Failure failure) {
        behaviourOfA = failure.response;
        for (int i = 0; i < 6; i++) {
            HttpResponseFor<ChatCompletion> r = client.chat().completions().withRawResponse().create(chat("duo"));
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.parse().choices().get(0).message().content()).hasValue("from b");
            assertThat(r.headers().values("x-caravan-deployment")).containsExactly("b");
        }
        assertThat(callsToA.get()).as("a was tried").isPositive();
    }

    @Test
    void refusedConnectionsFailOverToo() {
        for (int i = 0; i < 3; i++) {
            HttpResponseFor<ChatCompletion> r = client.chat().completions().withRawResponse().create(chat("duo-refused"));
            assertThat(r.parse().choices().get(0).message().content()).hasValue("from b");
            assertThat(r.headers().values("x-caravan-attempts")).containsExactly("2");
        }
    }

    @Test
    void aStreamFailsOverWhileNothingWasSentYet() {
        behaviourOfA = Failure.SERVER_ERROR.response;
        StringBuilder text = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(chat("duo"))) {
            s.stream().forEach(c -> c.choices().forEach(ch -> ch.delta().content().ifPresent(text::append)));
        }
        assertThat(text.toString()).isEqualTo("from b");
        assertThat(callsToA.get()).isEqualTo(1);
    }

    @Test
    void aStreamThatDiesAfterThreeChunksEndsWithAnErrorEventAndCountsAgainstItsDeployment() throws Exception {
        String dying = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":null}]}\n\n".repeat(3);
        behaviourOfA = () -> new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(dying)
                .setSocketPolicy(SocketPolicy.DISCONNECT_AT_END);
        // the guarded model's breaker opens after 4 calls with half failing
        for (int i = 0; i < 4; i++) {
            HttpResponse<String> r = gateway.post("/v1/chat/completions",
                    "{\"model\":\"guarded\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                    "Authorization", "Bearer " + TestGateway.MASTER_KEY);
            assertThat(r.body()).contains("\"content\":\"x\"").contains("\"code\":\"upstream_stream_broken\"");
        }
        Thread.sleep(100); // breakers learn when the stream ends
        assertThat(gateway.healthDeployments()).contains("{\"id\":\"a-guarded\",\"provider\":\"a\",\"model\":\"m\",\"state\":\"open\"");
        // while a-guarded is open, every stream is served whole by b-guarded
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> r = gateway.post("/v1/chat/completions",
                    "{\"model\":\"guarded\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                    "Authorization", "Bearer " + TestGateway.MASTER_KEY);
            assertThat(r.body()).contains("from ").endsWith("data: [DONE]\n\n");
        }
        Thread.sleep(1100); // let the breaker close again for the other tests
        behaviourOfA = () -> null;
        client.chat().completions().create(chat("guarded"));
    }

    @Test
    void breakerOpensKeepsTrafficOffProbesAfterTheWaitAndCloses() throws Exception {
        Thread.sleep(1100); // any earlier opening of a-guarded has expired
        behaviourOfA = Failure.SERVER_ERROR.response;
        for (int i = 0; i < 4; i++) {
            assertThat(client.chat().completions().create(chat("guarded")).choices().get(0).message().content()).hasValue("from b");
        }
        int whenOpened = callsToA.get();
        assertThat(whenOpened).isGreaterThanOrEqualTo(2);
        assertThat(gateway.healthDeployments()).contains("\"id\":\"a-guarded\",\"provider\":\"a\",\"model\":\"m\",\"state\":\"open\"");
        assertThat(gateway.metric("caravan_deployment_state{deployment=\"a-guarded\"}")).isEqualTo(1.0);

        for (int i = 0; i < 10; i++) {
            HttpResponseFor<ChatCompletion> r = client.chat().completions().withRawResponse().create(chat("guarded"));
            assertThat(r.headers().values("x-caravan-attempts")).containsExactly("1");
        }
        assertThat(callsToA.get()).as("no call reaches an open deployment").isEqualTo(whenOpened);

        behaviourOfA = () -> null; // a recovers
        Thread.sleep(1100);        // openDuration passes: the next request is the half-open probe
        HttpResponseFor<ChatCompletion> probe = client.chat().completions().withRawResponse().create(chat("guarded"));
        assertThat(probe.headers().values("x-caravan-deployment")).containsExactly("a-guarded");
        assertThat(callsToA.get()).isEqualTo(whenOpened + 1);
        assertThat(gateway.healthDeployments()).contains("\"id\":\"a-guarded\",\"provider\":\"a\",\"model\":\"m\",\"state\":\"closed\"");
        assertThat(client.chat().completions().create(chat("guarded")).choices().get(0).message().content()).hasValue("from a");
    }
}
