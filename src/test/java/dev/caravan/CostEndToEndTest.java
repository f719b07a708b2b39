package dev.caravan;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.core.JsonNumber;
import com.openai.core.JsonValue;
import com.openai.core.http.HttpResponseFor;
import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.CompletionUsage;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.policy.Decision;
import dev.caravan.policy.EndFacts;
import dev.caravan.policy.Policy;
import dev.caravan.policy.PolicyCall;
import dev.caravan.policy.PolicyRegistry;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

import java.io.InputStream;
import java.math.BigDecimal;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What a request cost, as a client and an operator see it: {@code x-caravan-cost-usd} on whole answers,
 * {@code usage.caravan_cost_usd} in a stream's usage chunk, {@code cost_usd} in the access log, the policies'
 * end-hooks and {@code caravan_cost_usd_total}. Prices come from the deployment's config or from prices.yaml.
 */
class CostEndToEndTest {

    /** Records every end-hook's facts by request id, and refuses as a limit or a budget would when told to. */
    static final class Ledger implements Policy {
        // bounded by this class's requests
        final Map<String, EndFacts> ends = new ConcurrentHashMap<>();

        @Override
        public CompletionStage<Decision> before(PolicyCall call) {
            String text = call.request().path("messages").toString();
            for (String code : List.of("rate_limit_exceeded", "budget_exceeded")) {
                if (text.contains(code)) {
                    return CompletableFuture.completedFuture(Decision.refuse(
                            new GatewayException(429, "rate_limit_error", code, "Refused by the test ledger.")));
                }
            }
            return CONTINUE;
        }

        @Override
        public void end(PolicyCall call, EndFacts facts) {
            ends.put(call.requestId(), facts);
        }
    }

    static final Ledger LEDGER = new Ledger();
    static final ListAppender<ILoggingEvent> ACCESS = new ListAppender<>();
    static final ListAppender<ILoggingEvent> COST_LOG = new ListAppender<>();
    // no exponent, no trailing zero, at most nine decimals
    static final Pattern PLAIN_USD = Pattern.compile("0|[1-9][0-9]*|[0-9]+\\.[0-9]{0,8}[1-9]");

    @RegisterExtension
    static final UpstreamFixture upstreams = new UpstreamFixture();
    static MockWebServer upstream;
    static TestGateway gateway;
    static OpenAIClient client;
    static String config;

    @BeforeAll
    static void start() throws Exception {
        PolicyRegistry.shared().register("cost-ledger", settings -> LEDGER);
        ACCESS.start();
        COST_LOG.start();
        ((Logger) LoggerFactory.getLogger("caravan.access")).addAppender(ACCESS);
        ((Logger) LoggerFactory.getLogger(dev.caravan.usage.CostMeter.class)).addAppender(COST_LOG);
        upstream = upstreams.server();
        config = """
                providers:
                  mock: { type: mock }
                  paced: { type: mock, chunkInterval: 300ms }
                  broken: { type: mock, failureRate: 1 }
                  local: { type: openai-compatible, baseUrl: "%s" }
                policies: [ cost-ledger ]
                routing: { retries: 0 }
                models:
                  - name: priced
                    deployments: [ { id: priced, provider: mock, model: priced-model, price: { input: 2.5, output: 10 } } ]
                  - name: mini
                    deployments: [ { id: mini, provider: mock, model: gpt-4o-mini } ]
                  - name: unpriced
                    deployments: [ { id: unpriced, provider: mock, model: no-price-anywhere } ]
                  - name: text-embedding-3-small
                    deployments: [ { id: embed, provider: mock, model: text-embedding-3-small } ]
                  - name: paced
                    deployments: [ { id: paced, provider: paced, model: gpt-4o-mini } ]
                  - name: broken
                    deployments: [ { id: broken, provider: broken, model: gpt-4o } ]
                  - name: local
                    deployments: [ { id: local, provider: local, model: local-model, price: { input: 1, output: 2, cachedInput: 0.5 } } ]
                """.formatted(upstream.url("/v1").toString().replaceAll("/$", ""));
        gateway = upstreams.gateway(config);
        client = upstreams.openai();
    }

    @AfterAll
    static void stop() {
        ((Logger) LoggerFactory.getLogger("caravan.access")).detachAppender(ACCESS);
        ((Logger) LoggerFactory.getLogger(dev.caravan.usage.CostMeter.class)).detachAppender(COST_LOG);
    }

    static ChatCompletionCreateParams chat(String model, String prompt) {
        return ChatCompletionCreateParams.builder().model(model).addUserMessage(prompt).build();
    }

    static BigDecimal usd(long nanos) {
        return BigDecimal.valueOf(nanos, 9);
    }

    /** The cost header of a whole answer: plain decimal USD, equal to {@code expectedNanos}. */
    static void assertCostHeader(List<String> values, long expectedNanos) {
        assertThat(values).singleElement().satisfies(v -> {
            assertThat(v).matches(PLAIN_USD);
            assertThat(new BigDecimal(v)).isEqualByComparingTo(usd(expectedNanos));
        });
    }

    /** The access log line of one request, once written. */
    static JsonNode accessLine(String requestId) throws Exception {
        return dev.caravan.AccessLines.of(ACCESS, requestId);
    }

    static String requestId(HttpResponseFor<?> r) {
        return r.headers().values("x-caravan-request-id").get(0);
    }

    @Test
    void aPricedDeploymentsWholeAnswerSaysItsCostInAHeaderTheLogAndTheEndHook() throws Exception {
        HttpResponseFor<ChatCompletion> r = client.chat().completions().withRawResponse().create(chat("priced", "What does it cost?"));
        CompletionUsage usage = r.parse().usage().orElseThrow();
        // $2.50 and $10 per million: 2,500 and 10,000 nano-dollars a token
        long expected = usage.promptTokens() * 2_500 + usage.completionTokens() * 10_000;
        assertThat(expected).isPositive();
        assertCostHeader(r.headers().values("x-caravan-cost-usd"), expected);

        JsonNode line = accessLine(requestId(r));
        assertThat(line.path("cost_usd").isNumber()).isTrue();
        assertThat(line.path("cost_usd").decimalValue()).isEqualByComparingTo(usd(expected));
        assertThat(line.path("cached_tokens").asLong(-1)).isZero();
        assertThat(line.has("refused_by")).isFalse();
        assertThat(LEDGER.ends.get(requestId(r)).costNanos()).isEqualTo(expected);
    }

    @Test
    void aDeploymentWithoutItsOwnPriceTakesThePriceTablesEntryForItsModel() {
        HttpResponseFor<ChatCompletion> r = client.chat().completions().withRawResponse().create(chat("mini", "Price me from the table"));
        CompletionUsage usage = r.parse().usage().orElseThrow();
        // prices.yaml's gpt-4o-mini: $0.15 in, $0.60 out per million
        assertCostHeader(r.headers().values("x-caravan-cost-usd"), usage.promptTokens() * 150 + usage.completionTokens() * 600);
    }

    @Test
    void embeddingsArePricedByTheirInputTokens() {
        HttpResponseFor<CreateEmbeddingResponse> r = client.embeddings().withRawResponse().create(EmbeddingCreateParams.builder()
                .model("text-embedding-3-small").inputOfArrayOfStrings(List.of("the first text to embed", "and a second")).build());
        long tokens = r.parse().usage().promptTokens();
        assertThat(tokens).isPositive();
        // prices.yaml's text-embedding-3-small: $0.02 per million input tokens
        assertCostHeader(r.headers().values("x-caravan-cost-usd"), tokens * 20);
    }

    @Test
    void aDeploymentWithNoPriceAnywhereCostsZeroAndTheLogSaysSoOnce() throws Exception {
        for (int i = 0; i < 3; i++) {
            HttpResponseFor<ChatCompletion> r = client.chat().completions().withRawResponse().create(chat("unpriced", "free " + i));
            assertThat(r.parse().usage().orElseThrow().totalTokens()).isPositive();
            assertThat(r.headers().values("x-caravan-cost-usd")).containsExactly("0");
            assertThat(accessLine(requestId(r)).path("cost_usd").asText()).isEqualTo("0");
        }
        assertThat(List.copyOf(COST_LOG.list)).filteredOn(e -> e.getFormattedMessage().contains("unpriced"))
                .singleElement().satisfies(e -> assertThat(e.getLevel().toString()).isEqualTo("INFO"));
    }

    @Test
    void cachedPromptTokensAreChargedAtTheCachedPriceAndCounted() throws Exception {
        upstream.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"c","object":"chat.completion","created":1,"model":"local-model",
                 "choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"cached"}}],
                 "usage":{"prompt_tokens":2000,"completion_tokens":100,"total_tokens":2100,
                          "prompt_tokens_details":{"cached_tokens":1500}}}"""));
        HttpResponseFor<ChatCompletion> r = client.chat().completions().withRawResponse().create(chat("local", "A long shared prefix"));
        // 500 uncached at $1, 1,500 cached at $0.50, 100 out at $2 per million
        assertCostHeader(r.headers().values("x-caravan-cost-usd"), 500 * 1_000 + 1_500 * 500 + 100 * 2_000);
        assertThat(accessLine(requestId(r)).path("cached_tokens").asLong()).isEqualTo(1_500);
        assertThat(gateway.metric("caravan_tokens_total{deployment=\"local\",direction=\"cached\",key=\"\",model=\"local\",team=\"none\"}"))
                .isEqualTo(1_500);
    }

    /** A stream's request id and, when a usage chunk came, its usage and {@code caravan_cost_usd}, read through the SDK. */
    record Streamed(String requestId, Optional<CompletionUsage> usage, Optional<BigDecimal> costUsd) {
    }

    static Streamed stream(String model, boolean includeUsage) {
        ChatCompletionCreateParams.Builder params = ChatCompletionCreateParams.builder().model(model).addUserMessage("Stream it");
        if (includeUsage) {
            params.streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build());
        }
        HttpResponseFor<StreamResponse<ChatCompletionChunk>> r = client.chat().completions().withRawResponse()
                .createStreaming(params.build());
        Optional<CompletionUsage> usage = Optional.empty();
        Optional<BigDecimal> cost = Optional.empty();
        try (StreamResponse<ChatCompletionChunk> stream = r.parse()) {
            for (ChatCompletionChunk chunk : stream.stream().toList()) {
                if (chunk.usage().isPresent()) {
                    usage = chunk.usage();
                    JsonValue c = chunk.usage().get()._additionalProperties().get("caravan_cost_usd");
                    assertThat(c).as("the usage chunk's caravan_cost_usd, a JSON number").isInstanceOf(JsonNumber.class);
                    cost = Optional.of(new BigDecimal(((JsonNumber) c).value().toString()));
                }
            }
        }
        assertThat(r.headers().values("x-caravan-cost-usd")).as("a stream's cost is not known at its head").isEmpty();
        return new Streamed(requestId(r), usage, cost);
    }

    @Test
    void aStreamThatAskedForUsageHasItsCostInTheUsageChunk() throws Exception {
        Streamed s = stream("priced", true);
        CompletionUsage usage = s.usage().orElseThrow();
        assertThat(usage._additionalProperties()).doesNotContainKey("caravan_estimated");
        long expected = usage.promptTokens() * 2_500 + usage.completionTokens() * 10_000;
        assertThat(expected).isPositive();
        assertThat(s.costUsd().orElseThrow()).isEqualByComparingTo(usd(expected));
        assertThat(accessLine(s.requestId()).path("cost_usd").decimalValue()).isEqualByComparingTo(usd(expected));
    }

    @Test
    void aStreamWhoseUsageTheGatewayEstimatedHasItsCostInTheUsageChunkToo() {
        upstream.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream").setBody("""
                data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"local-model","choices":[{"index":0,"delta":{"role":"assistant","content":"The capital"},"finish_reason":null}]}

                data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"local-model","choices":[{"index":0,"delta":{"content":" of France is Paris."},"finish_reason":"stop"}]}

                data: [DONE]

                """));
        Streamed s = stream("local", true);
        CompletionUsage usage = s.usage().orElseThrow();
        assertThat(usage._additionalProperties().get("caravan_estimated").asBoolean()).hasValue(true);
        long expected = usage.promptTokens() * 1_000 + usage.completionTokens() * 2_000;
        assertThat(expected).isPositive();
        assertThat(s.costUsd().orElseThrow()).isEqualByComparingTo(usd(expected));
    }

    @Test
    void aStreamThatDidNotAskForUsageGetsNoUsageChunkButIsStillRecordedWithItsCost() throws Exception {
        Streamed s = stream("priced", false);
        assertThat(s.usage()).isEmpty();
        TestGateway.eventually(() -> LEDGER.ends.containsKey(s.requestId()), "the stream's end is recorded");
        EndFacts f = LEDGER.ends.get(s.requestId());
        assertThat(f.deployment()).isEqualTo("priced");
        assertThat(f.outcome()).isEqualTo("completed");
        assertThat(f.costNanos()).isEqualTo(f.usage().promptTokens() * 2_500 + f.usage().completionTokens() * 10_000)
                .isPositive();
    }

    @Test
    void aStreamTheClientLeavesHalfWayIsChargedForWhatWasProduced() throws Exception {
        String requestId;
        try (Socket socket = new Socket("127.0.0.1", gateway.port())) {
            String body = "{\"model\":\"paced\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a long story\"}]}";
            socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + TestGateway.MASTER_KEY + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length()
                    + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            socket.setSoTimeout(5000);
            InputStream in = socket.getInputStream();
            String seen = "";
            byte[] buf = new byte[4096];
            while (!seen.contains("reply")) { // the stream's second word: a couple of chunks arrived
                int n = in.read(buf);
                assertThat(n).isPositive();
                seen += new String(buf, 0, n, StandardCharsets.UTF_8);
            }
            Matcher id = Pattern.compile("(?i)x-caravan-request-id: (\\S+)").matcher(seen);
            assertThat(id.find()).isTrue();
            requestId = id.group(1);
        } // the client leaves long before the mock's last chunk (and its usage)

        JsonNode line = accessLine(requestId);
        assertThat(line.path("outcome").asText()).isEqualTo("client_closed");
        assertThat(line.path("usage_estimated").asBoolean()).isTrue();
        long prompt = line.path("prompt_tokens").asLong();
        long completion = line.path("completion_tokens").asLong();
        assertThat(completion).isPositive();
        // prices.yaml's gpt-4o-mini: what was produced is charged, not nothing
        long expected = prompt * 150 + completion * 600;
        assertThat(line.path("cost_usd").decimalValue()).isPositive().isEqualByComparingTo(usd(expected));
        TestGateway.eventually(() -> LEDGER.ends.containsKey(requestId), "the end-hook heard the stream's end");
        assertThat(LEDGER.ends.get(requestId).outcome()).isEqualTo("client_closed");
        assertThat(LEDGER.ends.get(requestId).costNanos()).isEqualTo(expected);
    }

    @Test
    void errorAnswersClaimNoCostAndTheLogSaysWhichControlRefused() throws Exception {
        for (String code : List.of("rate_limit_exceeded", "budget_exceeded")) {
            HttpResponse<String> refused = gateway.post("/v1/chat/completions",
                    "{\"model\":\"priced\",\"messages\":[{\"role\":\"user\",\"content\":\"" + code + "\"}]}",
                    "Authorization", "Bearer " + TestGateway.MASTER_KEY, "Content-Type", "application/json");
            assertThat(refused.statusCode()).isEqualTo(429);
            assertThat(refused.headers().firstValue("x-caravan-cost-usd")).isEmpty();
            JsonNode line = accessLine(refused.headers().firstValue("x-caravan-request-id").orElseThrow());
            assertThat(line.path("error_code").asText()).isEqualTo(code);
            assertThat(line.path("refused_by").asText()).isEqualTo(code.startsWith("rate") ? "limit" : "budget");
            assertThat(line.path("cost_usd").asText()).isEqualTo("0");
        }
        assertThatThrownBy(() -> client.chat().completions().withRawResponse().create(chat("broken", "fail")))
                .isInstanceOfSatisfying(OpenAIServiceException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(503);
                    assertThat(e.headers().values("x-caravan-cost-usd")).isEmpty();
                });
        HttpResponse<String> upstreamFailed = gateway.post("/v1/chat/completions",
                "{\"model\":\"broken\",\"messages\":[{\"role\":\"user\",\"content\":\"fail\"}]}",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY, "Content-Type", "application/json");
        JsonNode line = accessLine(upstreamFailed.headers().firstValue("x-caravan-request-id").orElseThrow());
        assertThat(line.has("refused_by")).isFalse();
        assertThat(line.path("cost_usd").asText()).isEqualTo("0");
    }

    @Test
    void costIsAMetricAndKeysAreLabelsOnlyWhenConfigSaysSo() throws Exception {
        client.chat().completions().create(chat("priced", "metrics"));
        String metrics = gateway.metrics();
        assertThat(metrics).contains("caravan_cost_usd_total{deployment=\"priced\",key=\"\",model=\"priced\",team=\"none\"} ",
                "caravan_requests_total{deployment=\"priced\",endpoint=\"chat\",ingress=\"http\",key=\"\",model=\"priced\",status=\"200\",team=\"none\"} ",
                "caravan_tokens_total{deployment=\"priced\",direction=\"input\",key=\"\",model=\"priced\",team=\"none\"} ",
                "caravan_tokens_total{deployment=\"priced\",direction=\"output\",key=\"\",model=\"priced\",team=\"none\"} ")
                .doesNotContain("key=\"master\"");
        assertThat(gateway.metric("caravan_cost_usd_total{deployment=\"priced\",key=\"\",model=\"priced\",team=\"none\"}")).isPositive();

        // switched on by a reload: the live config decides, request by request
        Files.writeString(gateway.configFile(), config + "metrics: { keyLabels: true }\n");
        TestGateway.eventually(() -> {
            client.chat().completions().create(chat("priced", "labelled"));
            return gateway.metric("caravan_cost_usd_total{deployment=\"priced\",key=\"master\",model=\"priced\",team=\"none\"}") > 0;
        }, "cost labelled by key once keyLabels is on");
        assertThat(gateway.metrics()).contains("caravan_requests_total{deployment=\"priced\",endpoint=\"chat\",ingress=\"http\",key=\"master\",model=\"priced\",status=\"200\",team=\"none\"} ");

        Files.writeString(gateway.configFile(), config);
        double unlabelled = gateway.metric("caravan_requests_total{deployment=\"priced\",endpoint=\"chat\",ingress=\"http\",key=\"\",model=\"priced\",status=\"200\",team=\"none\"}");
        TestGateway.eventually(() -> {
            client.chat().completions().create(chat("priced", "unlabelled again"));
            return gateway.metric("caravan_requests_total{deployment=\"priced\",endpoint=\"chat\",ingress=\"http\",key=\"\",model=\"priced\",status=\"200\",team=\"none\"}") > unlabelled;
        }, "keys unlabelled again once keyLabels is off");
    }
}
