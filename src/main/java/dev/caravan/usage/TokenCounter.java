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
    // an estimate need not read megabytes: past this, the rest is counted at the rate of what was read
    public static final int MAX_EXACT_CHARS = 1 << 20;
    // what an event loop may tokenize for one estimate: measured here, 4 Ki characters of the worst text
    // (random letters, one long word) take ~5 ms; 1 MiB of it takes ~2 s, which is why full counts run on CpuPool
    public static final int ON_LOOP_CHARS = 4 * 1024;

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

    /** Tokens of {@code text}: exact up to 1 Mi characters, the rest extrapolated. CPU-heavy: run it on CpuPool. */
    public static long count(String text, String model) {
        return count(text, model, MAX_EXACT_CHARS);
    }

    /**
     * Tokens of {@code text}, tokenizing at most its first {@code exactChars} characters; the rest is counted at the
     * rate of that prefix (its tokens per character), so a bounded count of ordinary text stays close to exact.
     */
    public static long count(String text, String model, int exactChars) {
        if (text == null || text.isEmpty()) {
            return 0;
        }
        if (text.length() <= exactChars) {
            return encodingFor(model).countTokensOrdinary(text);
        }
        int cut = exactChars > 1 && Character.isHighSurrogate(text.charAt(exactChars - 1)) ? exactChars - 1 : Math.max(exactChars, 1);
        long prefix = encodingFor(model).countTokensOrdinary(text.substring(0, cut));
        return prefix + (long) Math.ceil((double) prefix * (text.length() - cut) / cut);
    }

    /** The prompt of a canonical chat request: messages (text parts, tool calls, tool results) and tool schemas. */
    public static long promptTokens(ObjectNode request, String model) {
        return promptTokens(request, model, MAX_EXACT_CHARS);
    }

    /** As {@link #promptTokens(ObjectNode, String)}, tokenizing at most {@code exactChars} characters of it. */
    public static long promptTokens(ObjectNode request, String model, int exactChars) {
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
        return tokens + count(text.toString(), model, exactChars);
    }

    /** The inputs of a canonical embeddings request. */
    public static long embeddingTokens(ObjectNode request, String model) {
        return embeddingTokens(request, model, MAX_EXACT_CHARS);
    }

    /** As {@link #embeddingTokens(ObjectNode, String)}, tokenizing at most {@code exactChars} characters in all. */
    public static long embeddingTokens(ObjectNode request, String model, int exactChars) {
        JsonNode input = request.path("input");
        if (input.isTextual()) {
            return count(input.asText(), model, exactChars);
        }
        long tokens = 0;
        int left = exactChars;
        for (JsonNode item : input) {
            if (item.isTextual()) {
                String text = item.asText();
                // once the allowance is spent, each input is read no further than its first few characters
                tokens += count(text, model, Math.max(left, 16));
                left -= Math.min(left, text.length());
            } else {
                tokens += item.size();
            }
        }
        return tokens;
    }

    public static Usage estimate(long promptTokens, long completionTokens) {
        return new Usage(promptTokens, completionTokens, promptTokens + completionTokens, 0, 0, true);
    }
}
