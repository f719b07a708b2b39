package dev.caravan.policy.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;
import dev.caravan.stream.StreamHook;
import dev.caravan.usage.Usage;

import java.util.TreeMap;
import java.util.function.BooleanSupplier;

/**
 * A stream hook that passes every chunk on untouched and assembles, beside it, the whole answer the chunks tell
 * (one chat.completion body), so a stream that ends cleanly can be stored and replayed, whole or streamed. It knows
 * only what it saw: a stream cut short, failed or timed out never reaches {@link #complete()}. Bounded: past
 * {@link #MAX_BYTES} of text it stops assembling and the answer is not stored.
 */
final class StreamAssembly implements StreamHook {

    /** Bigger answers are not worth a cache entry; the exact cache's own byte bound is usually far smaller. */
    static final int MAX_BYTES = 4 << 20;
    private static final int MAX_CHOICES = 128;

    private final BooleanSupplier othersWait;
    private final TreeMap<Integer, Choice> choices = new TreeMap<>();
    private String id;
    private String model;
    private long created;
    private String systemFingerprint;
    private JsonNode usage;
    private long bytes;
    private boolean overflow;
    private volatile boolean complete;

    /** @param othersWait whether requests wait for this stream's answer: then a client leaving does not stop it */
    StreamAssembly(BooleanSupplier othersWait) {
        this.othersWait = othersWait;
    }

    private static final class Choice {
        String role = "assistant";
        final StringBuilder content = new StringBuilder();
        final StringBuilder reasoning = new StringBuilder();
        final StringBuilder refusal = new StringBuilder();
        boolean hasContent;
        boolean hasReasoning;
        boolean hasRefusal;
        final TreeMap<Integer, ToolCall> tools = new TreeMap<>();
        JsonNode finish;
        JsonNode logprobs;
    }

    private static final class ToolCall {
        String id;
        String type = "function";
        String name;
        final StringBuilder arguments = new StringBuilder();
    }

    @Override
    public void onChunk(ObjectNode chunk, Out out) {
        if (!overflow) {
            read(chunk);
        }
        out.emit(chunk);
    }

    @Override
    public void onComplete(Out out) {
        complete = !overflow;
    }

    @Override
    public boolean keepsUpstream() {
        return othersWait.getAsBoolean();
    }

    /** The upstream finished and everything was assembled. */
    boolean complete() {
        return complete;
    }

    private void read(ObjectNode chunk) {
        if (id == null && chunk.hasNonNull("id")) {
            id = chunk.get("id").asText();
        }
        if (model == null && chunk.hasNonNull("model")) {
            model = chunk.get("model").asText();
        }
        if (created == 0 && chunk.has("created")) {
            created = chunk.get("created").asLong();
        }
        if (systemFingerprint == null && chunk.hasNonNull("system_fingerprint")) {
            systemFingerprint = chunk.get("system_fingerprint").asText();
        }
        if (chunk.path("usage").isObject()) {
            usage = chunk.get("usage");
        }
        for (JsonNode c : chunk.path("choices")) {
            int index = c.path("index").asInt(0);
            Choice choice = choices.get(index);
            if (choice == null) {
                if (choices.size() >= MAX_CHOICES) {
                    overflow = true;
                    return;
                }
                choice = new Choice();
                choices.put(index, choice);
            }
            JsonNode delta = c.path("delta");
            if (delta.hasNonNull("role")) {
                choice.role = delta.get("role").asText();
            }
            choice.hasContent |= append(choice.content, delta.get("content"));
            choice.hasReasoning |= append(choice.reasoning, delta.get("reasoning_content"));
            choice.hasRefusal |= append(choice.refusal, delta.get("refusal"));
            for (JsonNode t : delta.path("tool_calls")) {
                int ti = t.path("index").asInt(0);
                ToolCall call = choice.tools.computeIfAbsent(ti, k -> new ToolCall());
                if (t.hasNonNull("id")) {
                    call.id = t.get("id").asText();
                }
                if (t.hasNonNull("type")) {
                    call.type = t.get("type").asText();
                }
                JsonNode f = t.path("function");
                if (f.hasNonNull("name")) {
                    call.name = f.get("name").asText();
                }
                append(call.arguments, f.get("arguments"));
            }
            if (c.hasNonNull("finish_reason")) {
                choice.finish = c.get("finish_reason");
            }
            if (c.hasNonNull("logprobs")) {
                choice.logprobs = c.get("logprobs");
            }
        }
        if (bytes > MAX_BYTES) {
            overflow = true;
        }
    }

    private boolean append(StringBuilder to, JsonNode text) {
        if (text == null || !text.isTextual()) {
            return false;
        }
        String s = text.textValue();
        to.append(s);
        bytes += s.length();
        return true;
    }

    /** The answer as one canonical chat.completion body; {@code counted} stands in when the stream sent no usage. */
    ObjectNode body(Usage counted) {
        ObjectNode body = Json.object();
        body.put("id", id == null ? "chatcmpl-caravan" : id);
        body.put("object", "chat.completion");
        body.put("created", created == 0 ? System.currentTimeMillis() / 1000 : created);
        body.put("model", model);
        ArrayNode out = body.putArray("choices");
        for (var e : choices.entrySet()) {
            Choice c = e.getValue();
            ObjectNode choice = out.addObject().put("index", e.getKey());
            ObjectNode message = choice.putObject("message").put("role", c.role);
            if (c.hasContent || c.tools.isEmpty()) {
                message.put("content", c.content.toString());
            } else {
                message.putNull("content");
            }
            if (c.hasReasoning) {
                message.put("reasoning_content", c.reasoning.toString());
            }
            if (c.hasRefusal) {
                message.put("refusal", c.refusal.toString());
            }
            if (!c.tools.isEmpty()) {
                ArrayNode calls = message.putArray("tool_calls");
                for (ToolCall t : c.tools.values()) {
                    ObjectNode call = calls.addObject();
                    call.put("id", t.id);
                    call.put("type", t.type);
                    call.putObject("function").put("name", t.name).put("arguments", t.arguments.toString());
                }
            }
            if (c.logprobs != null) {
                choice.set("logprobs", c.logprobs);
            }
            // a stream that completed without naming its finish reason finished: it is "stop"
            choice.set("finish_reason", c.finish == null ? Json.MAPPER.getNodeFactory().textNode("stop") : c.finish);
        }
        if (usage != null) {
            body.set("usage", usage);
        } else if (counted != null && !counted.isEmpty()) {
            body.set("usage", counted.toOpenAi());
        }
        if (systemFingerprint != null) {
            body.put("system_fingerprint", systemFingerprint);
        }
        return body;
    }
}
