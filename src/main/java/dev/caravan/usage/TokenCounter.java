package dev.caravan.usage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;

import java.util.regex.Pattern;

/**
 * Counts tokens with OpenAI's encodings (JTokkit) where a provider reports none. Other families tokenize
 * differently, so these are estimates and are marked as such ({@code usage.caravan_estimated}); OpenAI's chat
 * framing (a few tokens per message and for the reply's priming) is counted the way OpenAI documents it.
 */
public final class TokenCounter {

    // per OpenAI's cookbook for gpt-4o-era chat models: 3 tokens per message, 3 to prime the reply
    private static final int PER_MESSAGE = 3;
    private static final int REPLY_PRIMING = 3;
    // an estimate need not read megabytes: past this, characters are counted at 4 per token
    private static final int MAX_EXACT_CHARS = 1 << 20;

    private static final Pattern O_SERIES = Pattern.compile("o[1-9]");

    private static volatile Encoding o200k;
    private static volatile Encoding cl100k;

    private TokenCounter() {
    }

    /** Loads both encodings (their BPE tables take a moment) so the first estimate does not stall an event loop. */
    public static void warm() {
        encodingFor("gpt-4o");
        encodingFor("other");
    }

    /** o200k_base for the gpt-4o/o-series/gpt-4.1+/gpt-5 family, cl100k_base for everything else. */
    static Encoding encodingFor(String model) {
        String m = model == null ? "" : model;
        boolean o200 = m.startsWith("gpt-4o") || m.startsWith("gpt-4.1") || m.startsWith("gpt-5") || O_SERIES.matcher(m).lookingAt();
        if (o200) {
            if (o200k == null) {
                o200k = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.O200K_BASE);
            }
            return o200k;
        }
        if (cl100k == null) {
            cl100k = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.CL100K_BASE);
        }
        return cl100k;
    }

    public static long count(String text, String model) {
        if (text == null || text.isEmpty()) {
            return 0;
        }
        if (text.length() > MAX_EXACT_CHARS) {
            return encodingFor(model).countTokensOrdinary(text.substring(0, MAX_EXACT_CHARS))
                    + (text.length() - MAX_EXACT_CHARS) / 4;
        }
        return encodingFor(model).countTokensOrdinary(text);
    }

    /** The prompt of a canonical chat request: messages (text parts, tool calls, tool results) and tool schemas. */
    public static long promptTokens(ObjectNode request, String model) {
        long tokens = REPLY_PRIMING;
        StringBuilder text = new StringBuilder();
        for (JsonNode m : request.path("messages")) {
            tokens += PER_MESSAGE;
            text.append(m.path("role").asText()).append('\n');
            JsonNode content = m.path("content");
            if (content.isTextual()) {
                text.append(content.asText()).append('\n');
            } else {
                for (JsonNode part : content) {
                    if (part.path("text").isTextual()) {
                        text.append(part.path("text").asText()).append('\n');
                    } else if (part.has("image_url")) {
                        tokens += 85; // OpenAI's flat cost of a low-detail image tile
                    }
                }
            }
            for (JsonNode call : m.path("tool_calls")) {
                text.append(call.path("function").path("name").asText()).append(' ')
                        .append(call.path("function").path("arguments").asText()).append('\n');
            }
        }
        if (request.has("tools")) {
            text.append(request.get("tools").toString());
        }
        return tokens + count(text.toString(), model);
    }

    /** The inputs of a canonical embeddings request. */
    public static long embeddingTokens(ObjectNode request, String model) {
        JsonNode input = request.path("input");
        if (input.isTextual()) {
            return count(input.asText(), model);
        }
        long tokens = 0;
        for (JsonNode item : input) {
            tokens += item.isTextual() ? count(item.asText(), model) : item.size();
        }
        return tokens;
    }

    public static Usage estimate(long promptTokens, long completionTokens) {
        return new Usage(promptTokens, completionTokens, promptTokens + completionTokens, 0, 0, true);
    }
}
