package dev.caravan.routing;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.models.messages.MessageCountTokensParams;
import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.core.http.HttpResponseFor;
import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIServiceException;
import com.openai.errors.PermissionDeniedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.embeddings.EmbeddingCreateParams;
import dev.caravan.TestGateway;
import dev.caravan.UpstreamFixture;
import dev.caravan.auth.KeyAuthenticator;
import dev.caravan.core.Json;
import dev.caravan.policy.ledger.LedgerSettings;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Data residency: a team or key bound to {@code regions: [eu]} is served only by deployments labelled
 * {@code region: eu}, for the requested model and every fallback. When none is configured the answer is 403
 * {@code region_not_allowed}; when the EU ones are down it is their 5xx, and the US upstream hears nothing.
 */
class DataResidencyTest {

    static final String EU_MEMBER = "sk-eu-member-0123456789";
    static final String EU_ONLY_IN_BOTH = "sk-eu-only-in-both-0123456789";
    static final String US_IN_EU_TEAM = "sk-us-in-eu-team-0123456789";
    static final String ANYWHERE = "sk-anywhere-0123456789";

    @RegisterExtension
    static final UpstreamFixture upstreams = new UpstreamFixture();
    static final AtomicInteger callsToEu = new AtomicInteger();
    static final AtomicInteger callsToUs = new AtomicInteger();
    static final AtomicInteger callsToFailingEu = new AtomicInteger();
    static final ListAppender<ILoggingEvent> ACCESS = new ListAppender<>();
    @TempDir
    static Path data;
    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        MockWebServer eu = upstreams.server(healthy("eu", callsToEu));
        MockWebServer us = upstreams.server(healthy("us", callsToUs));
        MockWebServer failingEu = upstreams.server(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest r) {
                callsToFailingEu.incrementAndGet();
                return new MockResponse().setResponseCode(500).setBody("{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}");
            }
        });
        ACCESS.start();
        ((Logger) LoggerFactory.getLogger("caravan.access")).addAppender(ACCESS);
        gateway = upstreams.gateway("""
                providers:
                  eu: { type: openai, baseUrl: "%s" }
                  us: { type: openai, baseUrl: "%s" }
                  eu-failing: { type: openai, baseUrl: "%s" }
                  eu-closed: { type: openai, baseUrl: "http://127.0.0.1:%d/v1" }
                routing:
                  strategy: weighted          # an unbound key is spread over both regions
                  retries: 2
                  backoff: { initial: 10ms, max: 20ms }
                models:
                  - name: chat
                    deployments:
                      - { id: chat-us, provider: us, model: chat, region: us }   # US first, in every model
                      - { id: chat-eu, provider: eu, model: chat, region: eu }
                  - name: embed
                    deployments:
                      - { id: embed-us, provider: us, model: embed, region: us }
                      - { id: embed-eu, provider: eu, model: embed, region: eu }
                  - name: us-only
                    deployments: [ { id: us-only, provider: us, model: us-only, region: us } ]
                  - name: unlabelled
                    deployments: [ { id: unlabelled, provider: us, model: unlabelled } ]
                  - name: eu-failing
                    fallbacks: [us-only]
                    deployments:
                      - { id: us-standby, provider: us, model: standby, region: us }
                      - { id: eu-failing, provider: eu-failing, model: eu-failing, region: eu }
                  - name: eu-refused
                    deployments:
                      - { id: us-standby-2, provider: us, model: standby-2, region: us }
                      - { id: eu-refused, provider: eu-closed, model: eu-refused, region: eu }
                  - name: us-with-fallbacks
                    fallbacks: [us-only, eu-fallback]
                    deployments: [ { id: us-primary, provider: us, model: primary, region: us } ]
                  - name: eu-fallback
                    deployments: [ { id: eu-fallback, provider: eu, model: fallback, region: eu } ]
                  - name: eu-short
                    contextWindowFallbacks: [us-long, eu-long]
                    deployments: [ { id: eu-short, provider: eu, model: short-context, region: eu } ]
                  - name: us-long
                    deployments: [ { id: us-long, provider: us, model: long-context, region: us } ]
                  - name: eu-long
                    deployments: [ { id: eu-long, provider: eu, model: long-context, region: eu } ]
                teams:
                  eu-team: { regions: [eu] }
                  both-team: { regions: [eu, us] }
                  open-team: {}
                keys:
                  - { id: eu-member, sha256: "%s", team: eu-team }
                  - { id: eu-only-in-both, sha256: "%s", team: both-team, regions: [eu] }
                  - { id: us-in-eu-team, sha256: "%s", team: eu-team, regions: [us] }
                  - { id: anywhere, sha256: "%s", team: open-team }
                """.formatted(eu.url("/v1"), us.url("/v1"), failingEu.url("/v1"), TestGateway.freePort(),
                sha(EU_MEMBER), sha(EU_ONLY_IN_BOTH), sha(US_IN_EU_TEAM), sha(ANYWHERE)),
                Map.of("caravan.dataDir", data.toString()));
    }

    @AfterAll
    static void stop() {
        ((Logger) LoggerFactory.getLogger("caravan.access")).detachAppender(ACCESS);
    }

    @BeforeEach
    void countFromZero() {
        callsToEu.set(0);
        callsToUs.set(0);
        callsToFailingEu.set(0);
    }

    @Test
    void anEuTeamsKeyIsOnlyEverServedByTheEuDeployment() {
        OpenAIClient client = gateway.openai(EU_MEMBER);
        for (int i = 0; i < 30; i++) {
            HttpResponseFor<ChatCompletion> r = client.chat().completions().withRawResponse().create(chat("chat"));
            assertThat(r.parse().choices().get(0).message().content()).hasValue("from eu");
            assertThat(r.headers().values("x-caravan-deployment")).containsExactly("chat-eu");
            assertThat(r.headers().values("x-caravan-region")).containsExactly("eu");
        }
        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(chat("chat"))) {
            s.stream().forEach(c -> c.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append)));
        }
        assertThat(streamed.toString()).isEqualTo("from eu");
        for (int i = 0; i < 10; i++) {
            client.embeddings().create(EmbeddingCreateParams.builder().model("embed").input("hello").build());
        }
        assertThat(callsToEu.get()).isEqualTo(41);
        assertThat(callsToUs.get()).isZero();
    }

    @Test
    void whenTheEuDeploymentFailsTheAnswerIsItsErrorAndTheUsStandbyHearsNothing() {
        OpenAIClient client = gateway.openai(EU_MEMBER);
        for (String model : List.of("eu-failing", "eu-refused")) {
            for (int i = 0; i < 10; i++) { // its breaker opens on the way: then 503, still no US call
                assertThatThrownBy(() -> client.chat().completions().create(chat(model)))
                        .as(model).isInstanceOfSatisfying(OpenAIServiceException.class,
                                e -> assertThat(e.statusCode()).isIn(502, 503));
            }
        }
        assertThat(callsToFailingEu.get()).isPositive();
        assertThat(callsToUs.get()).as("requests at the US upstream, standby and fallback alike").isZero();

        // the US standby is up: a key bound to no region is served by it
        HttpResponseFor<ChatCompletion> free = gateway.openai(ANYWHERE).chat().completions().withRawResponse()
                .create(chat("eu-failing"));
        assertThat(free.headers().values("x-caravan-region")).containsExactly("us");
        assertThat(callsToUs.get()).isEqualTo(1);
    }

    @Test
    void aModelWithOnlyAUsDeploymentIs403RegionNotAllowedNamingTheModelAndTheRegions() {
        OpenAIClient client = gateway.openai(EU_MEMBER);
        assertThatThrownBy(() -> client.chat().completions().create(chat("us-only")))
                .isInstanceOfSatisfying(PermissionDeniedException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(403);
                    assertThat(e.code()).hasValue("region_not_allowed");
                    assertThat(e.getMessage()).contains("'us-only'", "(eu)").doesNotContain(EU_MEMBER);
                });
        assertThatThrownBy(() -> client.embeddings().create(EmbeddingCreateParams.builder().model("us-only").input("hi").build()))
                .isInstanceOfSatisfying(PermissionDeniedException.class,
                        e -> assertThat(e.code()).hasValue("region_not_allowed"));
        // a deployment that names no region is not in any region
        assertThatThrownBy(() -> client.chat().completions().create(chat("unlabelled")))
                .isInstanceOfSatisfying(PermissionDeniedException.class,
                        e -> assertThat(e.code()).hasValue("region_not_allowed"));
        assertThat(callsToUs.get()).isZero();
    }

    @Test
    void aFallbackModelInTheUsIsSkippedAndOneInTheEuServes() {
        HttpResponse<String> served = post(EU_MEMBER, "us-with-fallbacks");
        assertThat(served.statusCode()).as(served.body()).isEqualTo(200);
        assertThat(served.headers().firstValue("x-caravan-fallback")).hasValue("eu-fallback");
        assertThat(served.headers().firstValue("x-caravan-deployment")).hasValue("eu-fallback");
        assertThat(served.body()).contains("from eu");
        assertThat(callsToUs.get()).isZero();

        // without the EU fallback nothing may serve it: refused before any call
        for (String fallbacks : List.of("none", "us-only")) {
            HttpResponse<String> refused = post(EU_MEMBER, "us-with-fallbacks", "x-caravan-fallbacks", fallbacks);
            assertThat(refused.statusCode()).as(fallbacks).isEqualTo(403);
            assertThat(refused.body()).contains("\"code\":\"region_not_allowed\"");
        }
        assertThat(callsToUs.get()).isZero();
        assertThat(callsToEu.get()).isEqualTo(1);

        // too long for the model: of its context-window fallbacks, the US one is skipped too
        HttpResponse<String> longer = post(EU_MEMBER, "eu-short");
        assertThat(longer.statusCode()).as(longer.body()).isEqualTo(200);
        assertThat(longer.headers().firstValue("x-caravan-fallback")).hasValue("eu-long");
        assertThat(longer.headers().firstValue("x-caravan-region")).hasValue("eu");
        assertThat(callsToUs.get()).isZero();
        assertThat(callsToEu.get()).isEqualTo(3);
    }

    @Test
    void aKeysOwnRegionsNarrowItsTeams() {
        for (int i = 0; i < 30; i++) {
            assertThat(post(EU_ONLY_IN_BOTH, "chat").headers().firstValue("x-caravan-region")).hasValue("eu");
        }
        assertThat(callsToUs.get()).isZero();
        assertThat(post(EU_ONLY_IN_BOTH, "us-only").statusCode()).isEqualTo(403);

        // a key bound to [us] in a team bound to [eu] may be served nowhere
        HttpResponse<String> nowhere = post(US_IN_EU_TEAM, "chat");
        assertThat(nowhere.statusCode()).isEqualTo(403);
        assertThat(nowhere.body()).contains("\"code\":\"region_not_allowed\"", "(none)");
        assertThat(post(US_IN_EU_TEAM, "us-only").statusCode()).isEqualTo(403);
        assertThat(callsToEu.get() + callsToUs.get()).isEqualTo(30);
    }

    @Test
    void aKeyWithoutRegionsInATeamWithoutRegionsReachesEveryDeployment() {
        Set<String> regions = new HashSet<>();
        for (int i = 0; i < 30; i++) {
            HttpResponse<String> r = post(ANYWHERE, "chat");
            assertThat(r.statusCode()).isEqualTo(200);
            regions.add(r.headers().firstValue("x-caravan-region").orElseThrow());
        }
        assertThat(regions).containsExactlyInAnyOrder("eu", "us"); // each side misses all 30 with odds of 1 in 2^30
        assertThat(callsToEu.get()).isPositive();
        assertThat(callsToUs.get()).isPositive();
        HttpResponse<String> unlabelled = post(ANYWHERE, "unlabelled");
        assertThat(unlabelled.statusCode()).isEqualTo(200);
        assertThat(unlabelled.headers().firstValue("x-caravan-region")).isEmpty();
    }

    @Test
    void theAccessLogLineAndTheLedgerRowNameTheRegionServed() throws Exception {
        String euRequest = requestId(post(EU_MEMBER, "chat"));
        String unlabelledRequest = requestId(post(ANYWHERE, "unlabelled"));
        String refusedRequest = requestId(post(EU_MEMBER, "us-only"));

        JsonNode eu = accessLine(euRequest);
        assertThat(eu.path("deployment").asText()).isEqualTo("chat-eu");
        assertThat(eu.path("region").asText()).isEqualTo("eu");
        assertThat(accessLine(unlabelledRequest).has("region")).as("a deployment without a region").isFalse();
        JsonNode refused = accessLine(refusedRequest);
        assertThat(refused.path("status").asInt()).isEqualTo(403);
        assertThat(refused.path("error_code").asText()).isEqualTo("region_not_allowed");
        assertThat(refused.has("region")).isFalse();

        assertThat(ledgerRegion(euRequest)).isEqualTo(Map.of("deployment", "chat-eu", "region", "eu"));
        assertThat(ledgerRegion(unlabelledRequest)).containsEntry("deployment", "unlabelled").doesNotContainKey("region");
    }

    @Test
    void onTheMessagesApiThe403IsInAnthropicsErrorShape() throws Exception {
        HttpResponse<String> r = gateway.post("/v1/messages",
                "{\"model\":\"us-only\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "x-api-key", EU_MEMBER, "anthropic-version", "2023-06-01", "Content-Type", "application/json");
        assertThat(r.statusCode()).isEqualTo(403);
        JsonNode body = Json.MAPPER.readTree(r.body());
        assertThat(body.path("type").asText()).isEqualTo("error");
        assertThat(body.path("error").path("type").asText()).isEqualTo("permission_error");
        assertThat(body.path("error").path("message").asText()).contains("'us-only'", "regions", "(eu)");

        AnthropicClient claude = AnthropicOkHttpClient.builder().baseUrl(gateway.baseUrl()).apiKey(EU_MEMBER)
                .maxRetries(0).build();
        assertThatThrownBy(() -> claude.messages().countTokens(MessageCountTokensParams.builder().model("us-only")
                .addUserMessage("hi").build()))
                .isInstanceOfSatisfying(com.anthropic.errors.PermissionDeniedException.class,
                        e -> assertThat(e.statusCode()).isEqualTo(403));
        // counting is routed too: an EU key's count is made at (or for) the EU deployment
        for (int i = 0; i < 10; i++) {
            HttpResponse<String> count = gateway.post("/v1/messages/count_tokens",
                    "{\"model\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                    "x-api-key", EU_MEMBER, "anthropic-version", "2023-06-01", "Content-Type", "application/json");
            assertThat(count.statusCode()).as(count.body()).isEqualTo(200);
            assertThat(count.headers().firstValue("x-caravan-deployment")).hasValue("chat-eu");
        }
        assertThat(callsToUs.get()).isZero();
    }

    // ---- helpers

    /**
     * An OpenAI-wire upstream that answers every chat (whole or streamed) and embeddings call "from {@code who}",
     * except that its model {@code short-context} finds every prompt too long.
     */
    static Dispatcher healthy(String who, AtomicInteger calls) {
        return new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest r) {
                calls.incrementAndGet();
                String body = r.getBody().clone().readUtf8();
                if (body.contains("\"model\":\"short-context\"")) {
                    return json("{\"error\":{\"message\":\"This model's maximum context length is 8 tokens.\","
                            + "\"type\":\"invalid_request_error\",\"param\":\"messages\",\"code\":\"context_length_exceeded\"}}")
                            .setResponseCode(400);
                }
                if (r.getPath().endsWith("/embeddings")) {
                    return json("""
                            {"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.6,0.8]}],
                             "model":"embed","usage":{"prompt_tokens":2,"total_tokens":2}}""");
                }
                if (body.contains("\"stream\":true")) {
                    String chunk = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
                            + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},\"finish_reason\":%s}]}\n\n";
                    return new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(
                            chunk.formatted("from " + who, "null") + chunk.formatted("", "\"stop\"") + "data: [DONE]\n\n");
                }
                return json("""
                        {"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,
                         "message":{"role":"assistant","content":"from %s"},"finish_reason":"stop"}],
                         "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}""".formatted(who));
            }
        };
    }

    static MockResponse json(String body) {
        return new MockResponse().setHeader("Content-Type", "application/json").setBody(body);
    }

    static String sha(String key) {
        return HexFormat.of().formatHex(KeyAuthenticator.sha256(key));
    }

    static ChatCompletionCreateParams chat(String model) {
        return ChatCompletionCreateParams.builder().model(model).addUserMessage("where am I served?").build();
    }

    static HttpResponse<String> post(String key, String model, String... headers) {
        String[] all = new String[headers.length + 4];
        all[0] = "Authorization";
        all[1] = "Bearer " + key;
        all[2] = "Content-Type";
        all[3] = "application/json";
        System.arraycopy(headers, 0, all, 4, headers.length);
        return gateway.post("/v1/chat/completions",
                "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"where am I served?\"}]}", all);
    }

    static String requestId(HttpResponse<String> r) {
        return r.headers().firstValue("x-caravan-request-id").orElseThrow();
    }

    /** The access log line of one request, once written. */
    static JsonNode accessLine(String requestId) throws InterruptedException {
        return dev.caravan.AccessLines.of(ACCESS, requestId);
    }

    /**
     * The ledger row's deployment and region (absent when NULL), once the writer has written it: read from the
     * gateway's own H2 file, in this process beside its pool.
     */
    static Map<String, String> ledgerRegion(String requestId) throws Exception {
        String url = LedgerSettings.fromEnvironment(name -> null, Map.of("caravan.dataDir", data.toString())::get).jdbcUrl();
        Properties login = new Properties();
        login.setProperty("user", "sa");
        login.setProperty("password", "");
        AtomicReference<Map<String, String>> row = new AtomicReference<>();
        TestGateway.eventually(() -> {
            try (Connection c = DriverManager.getConnection(url, login);
                 PreparedStatement s = c.prepareStatement("SELECT deployment, region FROM spend_ledger WHERE request_id = ?")) {
                s.setString(1, requestId);
                try (ResultSet r = s.executeQuery()) {
                    if (!r.next()) {
                        return false;
                    }
                    row.set(r.getString("region") == null ? Map.of("deployment", r.getString("deployment"))
                            : Map.of("deployment", r.getString("deployment"), "region", r.getString("region")));
                    return true;
                }
            } catch (java.sql.SQLException e) {
                throw new IllegalStateException(e);
            }
        }, "the ledger row of " + requestId);
        return row.get();
    }
}
