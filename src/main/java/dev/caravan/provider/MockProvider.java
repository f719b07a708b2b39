package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ProviderConfig.MockSettings;
import dev.caravan.usage.CanonicalText;
import dev.caravan.usage.Usage;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The built-in provider that needs no network: a deterministic reply derived from the prompt, OpenAI-shaped
 * bodies and stream chunks, realistic usage, and configurable latency, chunk pacing and failures. All waiting is
 * done on one scheduler thread, so thousands of paced streams hold no threads.
 */
public final class MockProvider implements Provider {

    private static final String[] WORDS = {
            "caravan", "routes", "every", "request", "through", "five", "steps", "and", "the", "gateway",
            "answers", "with", "tokens", "counted", "cost", "known", "while", "providers", "stay", "hidden",
            "behind", "one", "stable", "endpoint", "for", "teams", "that", "ship", "fast", "safely"};

    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "caravan-mock");
        t.setDaemon(true);
        return t;
    });
    // per provider name: a bounded set (one entry per configured mock provider)
    private final Map<String, AtomicLong> callCounters = new ConcurrentHashMap<>();
    private final AtomicLong cancelledStreams = new AtomicLong();

    @Override
    public CompletableFuture<ChatResult> chat(ChatCall call) {
        return afterLatency(call, () -> {
            Reply reply = reply(call);
            ObjectNode body = Json.object();
            body.put("id", "chatcmpl-mock-" + call.requestId());
            body.put("object", "chat.completion");
            body.put("created", System.currentTimeMillis() / 1000);
            body.put("model", call.deployment().model());
            ObjectNode choice = body.putArray("choices").addObject();
            choice.put("index", 0);
            ObjectNode message = choice.putObject("message");
            message.put("role", "assistant");
            message.put("content", String.join(" ", reply.words()));
            message.putNull("refusal");
            choice.putNull("logprobs");
            choice.put("finish_reason", reply.finishReason());
            body.set("usage", usageNode(reply.usage()));
            body.put("system_fingerprint", "caravan-mock");
            return new ChatResult(body, Map.of(), reply.usage());
        });
    }

    @Override
    public CompletableFuture<ChatStream> chatStream(ChatCall call) {
        return afterLatency(call, () -> new MockStream(call, reply(call), call.deployment().provider().mock().chunkInterval()));
    }

    /**
     * Deterministic unit vectors, one per input, derived from its text (same text, same vector), as floats or as
     * base64 little-endian float32 like OpenAI's {@code encoding_format: base64}.
     */
    @Override
    public CompletableFuture<ChatResult> embeddings(ChatCall call) {
        return afterLatency(call, () -> {
            List<String> texts = Embeddings.inputs(call.body());
            int dimensions = call.body().path("dimensions").asInt(EMBEDDING_DIMENSIONS);
            boolean base64 = "base64".equals(call.body().path("encoding_format").asText("float"));
            ObjectNode body = Json.object();
            body.put("object", "list");
            ArrayNode data = body.putArray("data");
            long tokens = 0;
            for (int i = 0; i < texts.size(); i++) {
                data.add(Embeddings.item(i, unitVector(texts.get(i), dimensions), base64));
                tokens += Math.max(1, (texts.get(i).length() + 3) / 4);
            }
            body.put("model", call.deployment().model());
            ObjectNode usage = body.putObject("usage");
            usage.put("prompt_tokens", tokens);
            usage.put("total_tokens", tokens);
            return new ChatResult(body, Map.of(), new Usage(tokens, 0, tokens, false));
        });
    }

    static final int EMBEDDING_DIMENSIONS = 256;

    static float[] unitVector(String text, int dimensions) {
        long x = 1125899906842597L;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            x = 31 * x + b;
        }
        float[] v = new float[dimensions];
        double norm = 0;
        for (int i = 0; i < dimensions; i++) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            v[i] = (float) (((x >>> 11) * 0x1.0p-53) * 2 - 1);
            norm += v[i] * v[i];
        }
        float scale = (float) (1 / Math.sqrt(norm));
        for (int i = 0; i < dimensions; i++) {
            v[i] *= scale;
        }
        return v;
    }

    /** Streams cancelled before their end (client gone, idle timeout): lets tests see a cancel reach the upstream. */
    public long cancelledStreams() {
        return cancelledStreams.get();
    }

    /** After the provider's latency: its configured failure, or the answer. */
    private <T> CompletableFuture<T> afterLatency(ChatCall call, java.util.function.Supplier<T> answer) {
        CompletableFuture<T> result = new CompletableFuture<>();
        schedule(call.deployment().provider().mock().latency(), () -> {
            GatewayException failure = maybeFail(call.deployment());
            if (failure != null) {
                result.completeExceptionally(failure);
            } else {
                result.complete(answer.get());
            }
        });
        return result;
    }

    private void schedule(Duration delay, Runnable task) {
        if (delay.isZero()) {
            scheduler.execute(task);
        } else {
            scheduler.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
        }
    }

    /** Fails exactly {@code failureRate} of calls, evenly spread, so tests and demos are repeatable. */
    private GatewayException maybeFail(DeploymentConfig deployment) {
        MockSettings settings = deployment.provider().mock();
        if (settings.failureRate() <= 0) {
            return null;
        }
        long n = callCounters.computeIfAbsent(deployment.provider().name(), k -> new AtomicLong()).getAndIncrement();
        boolean fail = Math.floor((n + 1) * settings.failureRate()) > Math.floor(n * settings.failureRate());
        if (!fail) {
            return null;
        }
        ObjectNode body = Json.object();
        ObjectNode error = body.putObject("error");
        error.put("message", "The mock provider failed this call on purpose (failureRate " + settings.failureRate() + ").");
        error.put("type", "server_error");
        error.putNull("param");
        error.put("code", "mock_failure");
        return UpstreamErrors.fromStatus(deployment, settings.failureStatus(), Json.bytes(body), Map.of());
    }

    record Reply(List<String> words, String finishReason, Usage usage) {
    }

    static Reply reply(ChatCall call) {
        String prompt = lastUserText(call.body().path("messages"));
        long seed = 1125899906842597L;
        for (byte b : prompt.getBytes(StandardCharsets.UTF_8)) {
            seed = 31 * seed + b;
        }
        int count = 12 + (int) Math.floorMod(seed, 13L);
        List<String> words = new ArrayList<>(count + 8);
        String quoted = prompt.length() > 60 ? prompt.substring(0, 60) + "…" : prompt;
        words.add("Mock");
        words.add("reply");
        words.add("to");
        words.add("\"" + quoted.replace('\n', ' ') + "\":");
        long x = seed;
        for (int i = 0; i < count; i++) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            words.add(WORDS[(int) Math.floorMod(x >>> 33, (long) WORDS.length)]);
        }
        String finish = "stop";
        int limit = call.body().path("max_completion_tokens").asInt(call.body().path("max_tokens").asInt(0));
        if (limit > 0 && limit < words.size()) {
            words = new ArrayList<>(words.subList(0, limit));
            finish = "length";
        }
        long promptTokens = promptTokens(call.body().path("messages"));
        long completionTokens = words.size();
        return new Reply(words, finish, new Usage(promptTokens, completionTokens, promptTokens + completionTokens, false));
    }

    /** Close to what tiktoken gives for English: about four characters a token, plus framing per message. */
    private static long promptTokens(JsonNode messages) {
        long tokens = 3;
        for (JsonNode m : messages) {
            tokens += 4 + (CanonicalText.of(m.path("content"), "").length() + 3) / 4;
        }
        return tokens;
    }

    private static String lastUserText(JsonNode messages) {
        for (int i = messages.size() - 1; i >= 0; i--) {
            JsonNode m = messages.get(i);
            if ("user".equals(m.path("role").asText())) {
                return CanonicalText.of(m.path("content"), "");
            }
        }
        return messages.isEmpty() ? "" : CanonicalText.of(messages.get(messages.size() - 1).path("content"), "");
    }

    private static ObjectNode usageNode(Usage usage) {
        ObjectNode node = Json.object();
        node.put("prompt_tokens", usage.promptTokens());
        node.put("completion_tokens", usage.completionTokens());
        node.put("total_tokens", usage.totalTokens());
        return node;
    }

    /** Emits role, one chunk per word, finish, then usage, paced by {@code chunkInterval} and by demand. */
    final class MockStream extends BaseChatStream {
        private final ChatCall call;
        private final List<ObjectNode> chunks = new ArrayList<>();
        private final Duration interval;
        private int next;
        private long demand;
        private boolean scheduled;
        private ScheduledFuture<?> timer;

        MockStream(ChatCall call, Reply reply, Duration interval) {
            super(Map.of());
            this.call = call;
            this.interval = interval;
            chunks.add(chunk(delta -> {
                delta.put("role", "assistant");
                delta.put("content", "");
            }, null));
            for (int i = 0; i < reply.words().size(); i++) {
                String word = (i == 0 ? "" : " ") + reply.words().get(i);
                chunks.add(chunk(delta -> delta.put("content", word), null));
            }
            chunks.add(chunk(delta -> { }, reply.finishReason()));
            // like OpenAI with stream_options.include_usage: every chunk says usage null, the last carries it
            ObjectNode usageChunk = chunk(null, null);
            usageChunk.set("usage", usageNode(reply.usage()));
            chunks.add(usageChunk);
        }

        private ObjectNode chunk(java.util.function.Consumer<ObjectNode> delta, String finishReason) {
            String id = "chatcmpl-mock-" + call.requestId();
            long created = System.currentTimeMillis() / 1000;
            ObjectNode c;
            if (delta == null) {
                c = StreamChunks.usage(id, created, call.deployment().model(), com.fasterxml.jackson.databind.node.NullNode.getInstance());
            } else {
                ObjectNode d = Json.object();
                delta.accept(d);
                c = StreamChunks.delta(id, created, call.deployment().model(), d, finishReason);
            }
            c.put("system_fingerprint", "caravan-mock");
            return c;
        }

        @Override
        public void request(long n) {
            synchronized (this) {
                demand += n;
                if (scheduled || !isOpen()) {
                    return;
                }
                scheduled = true;
                // the first chunk goes at once: latency already passed before the stream started
                Duration delay = next == 0 ? Duration.ZERO : interval;
                timer = scheduler.schedule(this::emitNext, delay.toNanos(), TimeUnit.NANOSECONDS);
            }
        }

        private void emitNext() {
            ObjectNode c;
            synchronized (this) {
                scheduled = false;
                if (!isOpen()) {
                    return;
                }
                if (next >= chunks.size()) {
                    c = null;
                } else {
                    c = chunks.get(next++);
                    demand--;
                }
            }
            if (c == null) {
                complete();
                return;
            }
            emit(c);
            synchronized (this) {
                if (next >= chunks.size()) {
                    scheduled = true;
                    scheduler.execute(this::emitNext);
                    return;
                }
                if (demand > 0 && !scheduled && isOpen()) {
                    scheduled = true;
                    timer = scheduler.schedule(this::emitNext, interval.toNanos(), TimeUnit.NANOSECONDS);
                }
            }
        }

        @Override
        protected void onCancel(boolean wasOpen) {
            if (wasOpen) {
                cancelledStreams.incrementAndGet();
            }
            synchronized (this) {
                if (timer != null) {
                    timer.cancel(false);
                }
            }
        }
    }
}
