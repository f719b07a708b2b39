package dev.caravan.cache;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.core.http.StreamResponse;
import com.anthropic.helpers.MessageAccumulator;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.RawMessageStreamEvent;
import com.openai.client.OpenAIClient;
import com.openai.core.http.HttpResponseFor;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The exact cache as a client sees it through the official SDKs: the same request answered once by the upstream,
 * whole or streamed, in either dialect, with a fresh id, {@code x-caravan-cache: HIT} and nothing charged; what may
 * never be stored; the per-request controls; and whose entries a request may see.
 */
class ExactCacheTest {

    static CacheUpstream upstream;
    static TestGateway gateway;
    static final String RED = "sk-red-" + UUID.randomUUID();
    static final String RED_TWO = "sk-red2-" + UUID.randomUUID();
    static final String BLUE = "sk-blue-" + UUID.randomUUID();
    static final String LONE = "sk-lone-" + UUID.randomUUID();
    static final String LONE_TWO = "sk-lone2-" + UUID.randomUUID();
    static final String POOL_A = "sk-poola-" + UUID.randomUUID();
    static final String POOL_B = "sk-poolb-" + UUID.randomUUID();
    static final String TOOLS_OK = "sk-tools-" + UUID.randomUUID();

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
                  - name: embed-test
                    deployments: [ { provider: up, model: up-embed, price: { input: 0.1, output: 0 } } ]
                  - name: gpt-nocache
                    cache: { exact: false }
                    deployments: [ { provider: up, model: up-model } ]
                teams:
                  red: {}
                  blue: {}
                  pool-a: { cache: { shared: true } }
                  pool-b: { cache: { shared: true } }
                  tools: {}
                keys:
                  - { id: red, sha256: %s, team: red }
                  - { id: red-two, sha256: %s, team: red }
                  - { id: blue, sha256: %s, team: blue }
                  - { id: lone, sha256: %s }
                  - { id: lone-two, sha256: %s }
                  - { id: pool-a, sha256: %s, team: pool-a }
                  - { id: pool-b, sha256: %s, team: pool-b }
                  - { id: tools, sha256: %s, team: tools }
                routing:
                  breaker: { minimumCalls: 1000, window: 1000 }   # the failures these tests provoke open no breaker
                cache:
                  exact: { ttl: 10m, maxEntries: 1000, maxBytes: 1MB }
                  coalesce: { timeout: 10s }
                """.formatted(upstream.baseUrl(), sha(RED), sha(RED_TWO), sha(BLUE), sha(LONE), sha(LONE_TWO),
                sha(POOL_A), sha(POOL_B), sha(TOOLS_OK)));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        upstream.close();
    }

    static String sha(String key) {
        return HexFormat.of().formatHex(dev.caravan.auth.KeyAuthenticator.sha256(key));
    }

    static OpenAIClient openai(String key) {
        return gateway.openai(key);
    }

    static ChatCompletionCreateParams ask(String prompt) {
        return ChatCompletionCreateParams.builder().model("gpt-test").addUserMessage(prompt).build();
    }

    static HttpResponseFor<ChatCompletion> whole(String key, String prompt) {
        return openai(key).chat().completions().withRawResponse().create(ask(prompt));
    }

    static String text(HttpResponseFor<ChatCompletion> r) {
        return r.parse().choices().get(0).message().content().orElseThrow();
    }

    static String header(HttpResponseFor<?> r, String name) {
        List<String> values = r.headers().values(name);
        return values.isEmpty() ? null : values.get(0);
    }

    record Streamed(String text, String cache, List<ChatCompletionChunk> chunks) {
    }

    static Streamed streamed(String key, String prompt, boolean usage) {
        ChatCompletionCreateParams.Builder params = ChatCompletionCreateParams.builder().model("gpt-test").addUserMessage(prompt);
        if (usage) {
            params.streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build());
        }
        try (HttpResponseFor<com.openai.core.http.StreamResponse<ChatCompletionChunk>> r =
                     openai(key).chat().completions().withRawResponse().createStreaming(params.build())) {
            List<ChatCompletionChunk> chunks = r.parse().stream().toList();
            String text = chunks.stream().flatMap(c -> c.choices().stream())
                    .map(c -> c.delta().content().orElse("")).collect(Collectors.joining());
            return new Streamed(text, header(r, "x-caravan-cache"), chunks);
        }
    }

    @Test
    void theSameRequestTwiceIsAnsweredOnceByTheUpstreamAndTheSecondIsFreeWithAFreshId() {
        String prompt = "What is the capital of Peru? " + UUID.randomUUID();
        int before = upstream.calls.get();
        double savedBefore = gateway.metric("caravan_cache_saved_usd_total");
        HttpResponseFor<ChatCompletion> first = whole(RED, prompt);
        HttpResponseFor<ChatCompletion> second = whole(RED, prompt);

        assertThat(upstream.calls.get() - before).isEqualTo(1);
        assertThat(text(second)).isEqualTo(text(first)).contains("to: What is the capital of Peru?");
        assertThat(header(first, "x-caravan-cache")).isEqualTo("MISS");
        assertThat(header(second, "x-caravan-cache")).isEqualTo("HIT");
        assertThat(second.parse().id()).isNotEqualTo(first.parse().id());
        assertThat(new java.math.BigDecimal(header(first, "x-caravan-cost-usd"))).isPositive();
        assertThat(header(second, "x-caravan-cost-usd")).isEqualTo("0");
        assertThat(second.parse().usage().orElseThrow().totalTokens()).isEqualTo(15); // what the answer took, shown
        // 10 input tokens at $2/M and 5 output at $8/M: the hit saved $0.00006
        assertThat(gateway.metric("caravan_cache_saved_usd_total") - savedBefore).isCloseTo(0.00006, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(gateway.metric("caravan_cache_total{result=\"hit\"}")).isPositive();
    }

    @Test
    void aStreamedAnswerIsStoredAndReplayedAsAStreamAndAsAWholeAnswer() {
        String prompt = "Stream me a haiku " + UUID.randomUUID();
        int before = upstream.calls.get();
        Streamed first = streamed(RED, prompt, false);
        Streamed again = streamed(RED, prompt, true);
        HttpResponseFor<ChatCompletion> whole = whole(RED, prompt);

        assertThat(upstream.calls.get() - before).isEqualTo(1);
        assertThat(first.cache()).isEqualTo("MISS");
        assertThat(again.cache()).isEqualTo("HIT");
        assertThat(again.text()).isEqualTo(first.text()).startsWith("answer #");
        assertThat(again.chunks().get(again.chunks().size() - 1).usage()).isPresent(); // asked for: a usage chunk
        assertThat(again.chunks().stream().flatMap(c -> c.choices().stream()).map(c -> c.finishReason())
                .filter(java.util.Optional::isPresent).map(f -> f.get().asString()).toList()).containsExactly("stop");
        assertThat(header(whole, "x-caravan-cache")).isEqualTo("HIT");
        assertThat(text(whole)).isEqualTo(first.text());
        assertThat(whole.parse().choices().get(0).finishReason().asString()).isEqualTo("stop");
    }

    @Test
    void aWholeAnswerIsReplayedToAStreamingClient() {
        String prompt = "Whole first " + UUID.randomUUID();
        int before = upstream.calls.get();
        HttpResponseFor<ChatCompletion> first = whole(RED, prompt);
        Streamed replay = streamed(RED, prompt, true);

        assertThat(upstream.calls.get() - before).isEqualTo(1);
        assertThat(replay.cache()).isEqualTo("HIT");
        assertThat(replay.text()).isEqualTo(text(first));
        assertThat(replay.chunks().get(replay.chunks().size() - 1).usage().orElseThrow().totalTokens()).isEqualTo(15);
    }

    @Test
    void anAnthropicClientGetsTheStoredAnswerWholeAndAsItsOwnStreamEvents() {
        String prompt = "Claude asks " + UUID.randomUUID();
        int before = upstream.calls.get();
        HttpResponseFor<ChatCompletion> stored = whole(RED, prompt);
        AnthropicClient claude = AnthropicOkHttpClient.builder().baseUrl(gateway.baseUrl()).apiKey(RED).maxRetries(0)
                .timeout(Duration.ofSeconds(20)).build();
        MessageCreateParams params = MessageCreateParams.builder().model("gpt-test").maxTokens(200).addUserMessage(prompt).build();
        // Anthropic's max_tokens is part of its request: the canonical form differs from the OpenAI one without it,
        // so the first /v1/messages call stores its own entry and the next ones hit it
        Message whole = claude.messages().create(params);
        MessageAccumulator acc = MessageAccumulator.create();
        try (StreamResponse<RawMessageStreamEvent> stream = claude.messages().createStreaming(params)) {
            stream.stream().forEach(acc::accumulate);
        }
        Message replayed = acc.message();
        Message again = claude.messages().create(params);

        assertThat(upstream.calls.get() - before).isEqualTo(2);
        assertThat(whole.content().get(0).asText().text()).startsWith("answer #").contains(prompt);
        assertThat(replayed.content().get(0).asText().text()).isEqualTo(whole.content().get(0).asText().text());
        assertThat(again.content().get(0).asText().text()).isEqualTo(whole.content().get(0).asText().text());
        assertThat(text(stored)).contains(prompt);
    }

    @Test
    void aLargeRequestIsHashedOffTheEventLoopAndCachedAlike() {
        String prompt = "Summarise: " + "lorem ipsum ".repeat(12_000) + UUID.randomUUID(); // ~140 KB
        int before = upstream.calls.get();
        HttpResponseFor<ChatCompletion> first = whole(RED, prompt);
        HttpResponseFor<ChatCompletion> second = whole(RED, prompt);

        assertThat(upstream.calls.get() - before).isEqualTo(1);
        assertThat(header(first, "x-caravan-cache")).isEqualTo("MISS");
        assertThat(header(second, "x-caravan-cache")).isEqualTo("HIT");
        assertThat(text(second)).isEqualTo(text(first));
    }

    @Test
    void embeddingsAreCachedToo() {
        EmbeddingCreateParams params = EmbeddingCreateParams.builder().model("embed-test").input("embed me " + UUID.randomUUID()).build();
        int before = upstream.calls.get();
        CreateEmbeddingResponse first = openai(RED).embeddings().create(params);
        HttpResponseFor<CreateEmbeddingResponse> second = openai(RED).embeddings().withRawResponse().create(params);

        assertThat(upstream.calls.get() - before).isEqualTo(1);
        assertThat(header(second, "x-caravan-cache")).isEqualTo("HIT");
        assertThat(second.parse().data().get(0).embedding()).isEqualTo(first.data().get(0).embedding());
    }

    @Test
    void anUpstreamErrorIsNeverStored() {
        String prompt = "FAIL please " + UUID.randomUUID();
        int before = upstream.calls.get();
        for (int i = 0; i < 2; i++) {
            assertThatThrownBy(() -> whole(RED, prompt)).isInstanceOf(OpenAIServiceException.class);
        }
        assertThat(upstream.calls.get() - before).isEqualTo(2);
    }

    @Test
    void aContentFilteredAnswerIsNeverStoredWholeOrStreamed() {
        String prompt = "FILTER this " + UUID.randomUUID();
        int before = upstream.calls.get();
        whole(RED, prompt);
        HttpResponseFor<ChatCompletion> second = whole(RED, prompt);
        streamed(RED, prompt + " s", false);
        Streamed secondStream = streamed(RED, prompt + " s", false);

        assertThat(upstream.calls.get() - before).isEqualTo(4);
        assertThat(header(second, "x-caravan-cache")).isEqualTo("MISS");
        assertThat(secondStream.cache()).isEqualTo("MISS");
    }

    @Test
    void aStreamTheUpstreamCutShortIsNeverStored() {
        String prompt = "CUT me off " + UUID.randomUUID();
        int before = upstream.calls.get();
        for (int i = 0; i < 2; i++) {
            try {
                streamed(RED, prompt, false);
            } catch (RuntimeException expected) {
                // the SDK may report the broken stream; either way nothing may be stored
            }
        }
        assertThat(upstream.calls.get() - before).isEqualTo(2);
    }

    @Test
    void toolCallsAreStoredOnlyWhenConfigured() {
        String prompt = "TOOL time " + UUID.randomUUID();
        int before = upstream.calls.get();
        whole(TOOLS_OK, prompt);
        HttpResponseFor<ChatCompletion> second = whole(TOOLS_OK, prompt);

        assertThat(upstream.calls.get() - before).isEqualTo(2);
        assertThat(header(second, "x-caravan-cache")).isEqualTo("MISS");
    }

    @Test
    void noCacheSkipsTheLookupButStoresTheFreshAnswer() {
        String prompt = "Fresh please " + UUID.randomUUID();
        HttpResponseFor<ChatCompletion> first = whole(RED, prompt);
        HttpResponse<String> bypass = post(RED, prompt, "x-caravan-cache", "no-cache");
        HttpResponseFor<ChatCompletion> after = whole(RED, prompt);

        assertThat(bypass.headers().firstValue("x-caravan-cache")).hasValue("BYPASS");
        String fresh = Json.parseObjectOrNull(bypass.body()).at("/choices/0/message/content").asText();
        assertThat(fresh).isNotEqualTo(text(first));
        assertThat(text(after)).isEqualTo(fresh); // the bypassing request's answer replaced the old one
    }

    @Test
    void noStoreAnswersWithoutKeepingTheAnswer() {
        String prompt = "Keep nothing " + UUID.randomUUID();
        int before = upstream.calls.get();
        post(RED, prompt, "x-caravan-cache", "no-store");
        HttpResponseFor<ChatCompletion> next = whole(RED, prompt);

        assertThat(upstream.calls.get() - before).isEqualTo(2);
        assertThat(header(next, "x-caravan-cache")).isEqualTo("MISS");
    }

    @Test
    void aRequestsOwnTtlExpiresItsEntry() throws Exception {
        String prompt = "Short lived " + UUID.randomUUID();
        String body = "{\"model\":\"gpt-test\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}],"
                + "\"caravan\":{\"cache\":\"ttl=1s\"}}";
        gateway.post("/v1/chat/completions", body, "Authorization", "Bearer " + RED, "Content-Type", "application/json");
        HttpResponse<String> soon = gateway.post("/v1/chat/completions", body, "Authorization", "Bearer " + RED,
                "Content-Type", "application/json");
        Thread.sleep(1_500);
        HttpResponse<String> later = gateway.post("/v1/chat/completions", body, "Authorization", "Bearer " + RED,
                "Content-Type", "application/json");

        assertThat(soon.headers().firstValue("x-caravan-cache")).hasValue("HIT");
        assertThat(later.headers().firstValue("x-caravan-cache")).hasValue("MISS");
    }

    @Test
    void aNamespaceKeepsItsEntriesApart() {
        String prompt = "Namespaced " + UUID.randomUUID();
        post(RED, prompt, "x-caravan-cache", "namespace=docs");
        HttpResponse<String> other = post(RED, prompt, "x-caravan-cache", "namespace=blog");
        HttpResponse<String> same = post(RED, prompt, "x-caravan-cache", "namespace=docs");

        assertThat(other.headers().firstValue("x-caravan-cache")).hasValue("MISS");
        assertThat(same.headers().firstValue("x-caravan-cache")).hasValue("HIT");
    }

    @Test
    void anInvalidCacheControlIsTheClientsError() {
        HttpResponse<String> r = post(RED, "hello", "x-caravan-cache", "forever");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(Json.parseObjectOrNull(r.body()).at("/error/code").asText()).isEqualTo("invalid_cache_control");
        assertThat(Json.parseObjectOrNull(r.body()).at("/error/param").asText()).isEqualTo("caravan.cache");
    }

    @Test
    void anotherTeamNeverGetsAHitButTheSameTeamDoes() {
        String prompt = "Team secret " + UUID.randomUUID();
        whole(RED, prompt);
        assertThat(header(whole(BLUE, prompt), "x-caravan-cache")).isEqualTo("MISS");
        assertThat(header(whole(RED_TWO, prompt), "x-caravan-cache")).isEqualTo("HIT");
    }

    @Test
    void aKeyWithoutATeamHasEntriesOfItsOwn() {
        String prompt = "Lone wolf " + UUID.randomUUID();
        whole(LONE, prompt);
        assertThat(header(whole(LONE_TWO, prompt), "x-caravan-cache")).isEqualTo("MISS");
        assertThat(header(whole(LONE, prompt), "x-caravan-cache")).isEqualTo("HIT");
    }

    @Test
    void teamsThatSayCacheSharedShareOnePool() {
        String prompt = "Pooled " + UUID.randomUUID();
        whole(POOL_A, prompt);
        assertThat(header(whole(POOL_B, prompt), "x-caravan-cache")).isEqualTo("HIT");
        assertThat(header(whole(RED, prompt), "x-caravan-cache")).isEqualTo("MISS");
    }

    @Test
    void aModelCanSwitchTheCacheOff() {
        String prompt = "Never cached " + UUID.randomUUID();
        int before = upstream.calls.get();
        String body = "{\"model\":\"gpt-nocache\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}";
        for (int i = 0; i < 2; i++) {
            HttpResponse<String> r = gateway.post("/v1/chat/completions", body, "Authorization", "Bearer " + RED,
                    "Content-Type", "application/json");
            assertThat(r.headers().firstValue("x-caravan-cache")).isEmpty();
        }
        assertThat(upstream.calls.get() - before).isEqualTo(2);
    }

    @Test
    void anAdminEmptiesTheCacheAndAUserMayNot() {
        String prompt = "Clear me " + UUID.randomUUID();
        whole(RED, prompt);
        HttpResponse<String> refused = gateway.send(gateway.request("/admin/cache", "Authorization", "Bearer " + RED).DELETE().build());
        assertThat(refused.statusCode()).isEqualTo(403);
        assertThat(header(whole(RED, prompt), "x-caravan-cache")).isEqualTo("HIT");

        HttpResponse<String> cleared = gateway.send(gateway.request("/admin/cache?model=gpt-test",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY).DELETE().build());
        assertThat(cleared.statusCode()).isEqualTo(200);
        assertThat(Json.parseObjectOrNull(cleared.body()).path("deleted").asLong()).isPositive();
        assertThat(header(whole(RED, prompt), "x-caravan-cache")).isEqualTo("MISS");
    }

    static HttpResponse<String> post(String key, String prompt, String... headers) {
        String[] all = new String[headers.length + 4];
        all[0] = "Authorization";
        all[1] = "Bearer " + key;
        all[2] = "Content-Type";
        all[3] = "application/json";
        System.arraycopy(headers, 0, all, 4, headers.length);
        return gateway.post("/v1/chat/completions",
                "{\"model\":\"gpt-test\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}", all);
    }

    static Map<String, String> none() {
        return Map.of();
    }
}
