package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ProviderConfig.MockSettings;
import dev.caravan.provider.mock.MockFormat;
import dev.caravan.provider.mock.MockTools;
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
 * bodies and stream chunks, realistic usage, and configurable latency, chunk pacing and failures. It speaks what
 * agent frameworks demo: tool calls ({@link MockTools}), {@code response_format} ({@link MockFormat}) and {@code n}
 * choices, whole and streamed. All waiting is done on one scheduler thread, so thousands of paced streams hold no
 * threads.
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
            List<Reply> replies = replies(call);
            ObjectNode body = Json.object();
            body.put("id", "chatcmpl-mock-" + call.requestId());
            body.put("object", "chat.completion");
            body.put("created", System.currentTimeMillis() / 1000);
            body.put("model", call.deployment().model());
            ArrayNode choices = body.putArray("choices");
            for (int i = 0; i < replies.size(); i++) {
                Reply reply = replies.get(i);
                ObjectNode choice = choices.addObject();
                choice.put("index", i);
                ObjectNode message = choice.putObject("message");
                message.put("role", "assistant");
                if (reply.toolCalls().isEmpty()) {
                    message.put("content", String.join("", reply.pieces()));
                } else {
                    message.putNull("content");
                    ArrayNode calls = message.putArray("tool_calls");
                    for (ToolCall t : reply.toolCalls()) {
                        ObjectNode c = calls.addObject().put("id", t.id()).put("type", "function");
                        c.putObject("function").put("name", t.name()).put("arguments", t.arguments());
                    }
                }
                message.putNull("refusal");
                choice.putNull("logprobs");
                choice.put("finish_reason", reply.finishReason());
            }
            Usage usage = total(replies);
            body.set("usage", usageNode(usage));
            body.put("system_fingerprint", "caravan-mock");
            return new ChatResult(body, Map.of(), usage);
        });
    }

    @Override
    public CompletableFuture<ChatStream> chatStream(ChatCall call) {
        return afterLatency(call, () -> new MockStream(call, replies(call), call.deployment().provider().mock().chunkInterval()));
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
                return;
            }
            try {
                result.complete(answer.get());
            } catch (RuntimeException e) { // a request the mock refuses (a tool_choice naming no offered tool)
                result.completeExceptionally(e);
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

    /** One tool call of a reply: its id, the function's name, its arguments as JSON text. */
    record ToolCall(String id, String name, String arguments) {
    }

    /**
     * One choice's answer: text in the pieces it streams as (joined, the content), or tool calls; why it finished;
     * its usage (each choice counts the prompt, {@link #total} counts it once).
     */
    record Reply(List<String> pieces, List<ToolCall> toolCalls, String finishReason, Usage usage) {
    }

    /** {@code n} choices (1 by default, at most 16): tool calls when the request's tools call for them, else text. */
    static List<Reply> replies(ChatCall call) {
        ObjectNode body = call.body();
        int n = Math.max(1, Math.min(16, body.path("n").asInt(1)));
        List<MockTools.Call> calls = MockTools.calls(body);
        List<Reply> replies = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            replies.add(calls.isEmpty() ? reply(call, i) : toolReply(call, calls, i));
        }
        return replies;
    }

    private static Reply toolReply(ChatCall call, List<MockTools.Call> calls, int index) {
        List<ToolCall> out = new ArrayList<>(calls.size());
        long completionTokens = 0;
        for (int j = 0; j < calls.size(); j++) {
            MockTools.Call c = calls.get(j);
            String id = "call_" + Long.toHexString(seed(call.requestId() + "/" + index + "/" + j) & 0xffffffffffffL);
            out.add(new ToolCall(id, c.name(), c.arguments()));
            completionTokens += 5 + (c.name().length() + c.arguments().length() + 3) / 4;
        }
        long promptTokens = promptTokens(call.body());
        return new Reply(List.of(), out, "tool_calls", new Usage(promptTokens, completionTokens, promptTokens + completionTokens, false));
    }

    /** Choice 0 is the mock's long-standing reply to the prompt; other choices vary it by their index. */
    static Reply reply(ChatCall call, int index) {
        JsonNode body = call.body();
        String prompt = MockTools.lastUserText(body.path("messages"));
        String toolAnswer = MockTools.toolResultAnswer(body.path("messages"));
        List<String> words = new ArrayList<>();
        if (toolAnswer != null) {
            words.addAll(List.of(toolAnswer.split(" ")));
            if (index > 0) {
                words.add("(choice " + (index + 1) + ")");
            }
        } else {
            long seed = seed(prompt);
            for (int i = 0; i < index; i++) {
                seed = seed * 6364136223846793005L + 1442695040888963407L;
            }
            int count = 12 + (int) Math.floorMod(seed, 13L);
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
        }
        List<String> pieces = new ArrayList<>(words.size());
        if (MockFormat.isJson(body)) {
            // JSON streams in pieces of a few characters, about a token each
            String json = MockFormat.content(body, prompt, String.join(" ", words), index);
            for (int i = 0; i < json.length(); i += 4) {
                pieces.add(json.substring(i, Math.min(json.length(), i + 4)));
            }
        } else {
            for (int i = 0; i < words.size(); i++) {
                pieces.add((i == 0 ? "" : " ") + words.get(i));
            }
        }
        String finish = "stop";
        int limit = body.path("max_completion_tokens").asInt(body.path("max_tokens").asInt(0));
        if (limit > 0 && limit < pieces.size()) {
            pieces = new ArrayList<>(pieces.subList(0, limit));
            finish = "length";
        }
        long promptTokens = promptTokens(body);
        long completionTokens = pieces.size();
        return new Reply(pieces, List.of(), finish, new Usage(promptTokens, completionTokens, promptTokens + completionTokens, false));
    }

    private static long seed(String text) {
        long seed = 1125899906842597L;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            seed = 31 * seed + b;
        }
        return seed;
    }

    /** The prompt once, every choice's completion. */
    private static Usage total(List<Reply> replies) {
        long prompt = replies.get(0).usage().promptTokens();
        long completion = 0;
        for (Reply r : replies) {
            completion += r.usage().completionTokens();
        }
        return new Usage(prompt, completion, prompt + completion, false);
    }

    /** Close to what tiktoken gives for English: about four characters a token, plus framing per message. */
    private static long promptTokens(JsonNode body) {
        long tokens = 3;
        for (JsonNode m : body.path("messages")) {
            tokens += 4 + (CanonicalText.of(m.path("content"), "").length() + 3) / 4;
            for (JsonNode c : m.path("tool_calls")) {
                tokens += 4 + (c.path("function").toString().length() + 3) / 4;
            }
        }
        if (body.has("tools")) {
            tokens += (body.get("tools").toString().length() + 3) / 4;
        }
        return tokens;
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

        MockStream(ChatCall call, List<Reply> replies, Duration interval) {
            super(Map.of());
            this.call = call;
            this.interval = interval;
            // choices interleave, one chunk each in turn, as OpenAI's do: clients (openai-java's accumulator) take the
            // completion as done once every choice they have seen has finished
            List<List<ObjectNode>> perChoice = new ArrayList<>();
            for (int index = 0; index < replies.size(); index++) {
                Reply reply = replies.get(index);
                List<ObjectNode> chunks = new ArrayList<>();
                perChoice.add(chunks);
                boolean tools = !reply.toolCalls().isEmpty();
                chunks.add(chunk(index, delta -> {
                    delta.put("role", "assistant");
                    if (tools) {
                        delta.putNull("content");
                    } else {
                        delta.put("content", "");
                    }
                }, null));
                for (String piece : reply.pieces()) {
                    chunks.add(chunk(index, delta -> delta.put("content", piece), null));
                }
                for (int j = 0; j < reply.toolCalls().size(); j++) {
                    ToolCall t = reply.toolCalls().get(j);
                    int toolIndex = j;
                    // OpenAI's shape: id, type and name first with empty arguments, then the arguments in pieces
                    chunks.add(chunk(index, delta -> {
                        ObjectNode c = delta.putArray("tool_calls").addObject().put("index", toolIndex)
                                .put("id", t.id()).put("type", "function");
                        c.putObject("function").put("name", t.name()).put("arguments", "");
                    }, null));
                    for (int at = 0; at < t.arguments().length(); at += 8) {
                        String piece = t.arguments().substring(at, Math.min(t.arguments().length(), at + 8));
                        chunks.add(chunk(index, delta -> delta.putArray("tool_calls").addObject().put("index", toolIndex)
                                .putObject("function").put("arguments", piece), null));
                    }
                }
                chunks.add(chunk(index, delta -> { }, reply.finishReason()));
            }
            for (int at = 0, left = 1; left > 0; at++) {
                left = 0;
                for (List<ObjectNode> choice : perChoice) {
                    if (at < choice.size()) {
                        this.chunks.add(choice.get(at));
                        left++;
                    }
                }
            }
            // like OpenAI with stream_options.include_usage: every chunk says usage null, the last carries it
            ObjectNode usageChunk = chunk(0, null, null);
            usageChunk.set("usage", usageNode(total(replies)));
            this.chunks.add(usageChunk);
        }

        private ObjectNode chunk(int index, java.util.function.Consumer<ObjectNode> delta, String finishReason) {
            String id = "chatcmpl-mock-" + call.requestId();
            long created = System.currentTimeMillis() / 1000;
            ObjectNode c;
            if (delta == null) {
                c = StreamChunks.usage(id, created, call.deployment().model(), com.fasterxml.jackson.databind.node.NullNode.getInstance());
            } else {
                ObjectNode d = Json.object();
                delta.accept(d);
                c = StreamChunks.delta(id, created, call.deployment().model(), d, finishReason);
                ((ObjectNode) c.path("choices").path(0)).put("index", index);
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
