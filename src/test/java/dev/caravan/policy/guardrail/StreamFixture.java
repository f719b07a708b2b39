package dev.caravan.policy.guardrail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.policy.guardrail.pii.Entity;
import dev.caravan.policy.guardrail.pii.PiiDetector;
import dev.caravan.stream.StreamHook;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/** Chunks in OpenAI's chat.completion.chunk shape, a recording Out, and the checks the tests share. */
final class StreamFixture {
    static final PiiDetector DETECTOR = new PiiDetector(Set.of());
    static final ContentCheck ALL_PII = new ContentCheck(DETECTOR, EnumSet.allOf(Entity.class), List.of());

    private StreamFixture() {
    }

    static ObjectNode chunk(String choicesJson) {
        return Json.parseObjectOrNull("{\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
                + "\"model\":\"gpt-test\",\"choices\":" + choicesJson + "}");
    }

    /** A chunk with content for one choice; the first of a stream usually also carries the role. */
    static ObjectNode content(int index, String text) {
        ObjectNode c = chunk("[{\"index\":" + index + ",\"delta\":{},\"finish_reason\":null}]");
        ((ObjectNode) c.at("/choices/0/delta")).put("content", text);
        return c;
    }

    static ObjectNode first(String text) {
        ObjectNode c = content(0, text);
        ((ObjectNode) c.at("/choices/0/delta")).put("role", "assistant");
        return c;
    }

    static ObjectNode finish(int index, String reason) {
        return chunk("[{\"index\":" + index + ",\"delta\":{},\"finish_reason\":\"" + reason + "\"}]");
    }

    static ObjectNode usage() {
        ObjectNode c = chunk("[]");
        c.putObject("usage").put("prompt_tokens", 5).put("completion_tokens", 7).put("total_tokens", 12);
        return c;
    }

    static ObjectNode toolStart(int index, int tool, String id, String name) {
        return chunk("[{\"index\":" + index + ",\"delta\":{\"tool_calls\":[{\"index\":" + tool + ",\"id\":\"" + id
                + "\",\"type\":\"function\",\"function\":{\"name\":\"" + name + "\",\"arguments\":\"\"}}]},\"finish_reason\":null}]");
    }

    static ObjectNode toolArguments(int index, int tool, String arguments) {
        ObjectNode c = chunk("[{\"index\":" + index + ",\"delta\":{\"tool_calls\":[{\"index\":" + tool
                + ",\"function\":{}}]},\"finish_reason\":null}]");
        ((ObjectNode) c.at("/choices/0/delta/tool_calls/0/function")).put("arguments", arguments);
        return c;
    }

    /** Feeds the chunks to the hook, then completes the stream, as MeteredStream would. */
    static Recorder run(StreamHook hook, ObjectNode... chunks) {
        Recorder out = new Recorder();
        for (ObjectNode c : chunks) {
            if (out.failure == null) {
                hook.onChunk(c, out);
            }
        }
        if (out.failure == null) {
            hook.onComplete(out);
        }
        return out;
    }

    /** What a client would see: every chunk emitted, in order, and the error the stream ended with. */
    static final class Recorder implements StreamHook.Out {
        final List<ObjectNode> chunks = new ArrayList<>();
        GatewayException failure;

        @Override
        public void emit(ObjectNode chunk) {
            if (failure != null) {
                throw new AssertionError("a chunk was emitted after the stream failed");
            }
            chunks.add(chunk.deepCopy());
        }

        @Override
        public void fail(GatewayException error) {
            failure = error;
        }

        /** Each emitted chunk's content for one choice ("" where it has none), in order. */
        List<String> pieces(int index) {
            List<String> pieces = new ArrayList<>();
            for (ObjectNode c : chunks) {
                for (JsonNode choice : c.path("choices")) {
                    if (choice.path("index").asInt() == index) {
                        pieces.add(choice.path("delta").path("content").asText(""));
                    }
                }
            }
            return pieces;
        }

        String content(int index) {
            return String.join("", pieces(index));
        }

        String arguments(int index, int tool) {
            StringBuilder args = new StringBuilder();
            for (ObjectNode c : chunks) {
                for (JsonNode choice : c.path("choices")) {
                    if (choice.path("index").asInt() == index) {
                        for (JsonNode call : choice.path("delta").path("tool_calls")) {
                            if (call.path("index").asInt() == tool) {
                                args.append(call.path("function").path("arguments").asText(""));
                            }
                        }
                    }
                }
            }
            return args.toString();
        }

        /** finish_reason values in emitted order (nulls left out). */
        List<String> finishes() {
            List<String> finishes = new ArrayList<>();
            for (ObjectNode c : chunks) {
                for (JsonNode choice : c.path("choices")) {
                    if (choice.hasNonNull("finish_reason")) {
                        finishes.add(choice.path("index").asInt() + ":" + choice.get("finish_reason").asText());
                    }
                }
            }
            return finishes;
        }
    }
}
