package dev.caravan.policy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.stream.StreamHook;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The example policy docs/architecture.md points to: {@code policies: [ { name: banned-words, words: [..] } ]}.
 * A request that mentions a banned word is refused before the call (400); a streamed answer has each banned word
 * masked as it passes. Small on purpose: a word split across two chunks gets through, and whole answers are not
 * masked (an {@code after} hook would do that the same way).
 */
public final class BannedWordsPolicy implements Policy {

    private final List<String> words = new ArrayList<>();

    /** The factory registered under {@code banned-words}: its block is its settings. */
    public BannedWordsPolicy(JsonNode settings) {
        settings.path("words").forEach(w -> words.add(w.asText().toLowerCase(Locale.ROOT)));
    }

    @Override
    public CompletionStage<Decision> before(PolicyCall call) {
        String asked = call.request().path("messages").toString().toLowerCase(Locale.ROOT);
        for (String word : words) {
            if (asked.contains(word)) {
                return CompletableFuture.completedFuture(Decision.refuse(GatewayException.badRequest(
                        "banned_word", "messages", "The request mentions a word this gateway does not pass on.")));
            }
        }
        return CONTINUE; // shared and complete: a request that passes allocates nothing here
    }

    @Override
    public StreamHook onStream(PolicyCall call) {
        return (chunk, out) -> {
            for (JsonNode choice : chunk.path("choices")) {
                JsonNode content = choice.path("delta").path("content");
                if (content.isTextual()) {
                    ((ObjectNode) choice.get("delta")).put("content", mask(content.asText()));
                }
            }
            out.emit(chunk);
        };
    }

    private String mask(String text) {
        String masked = text;
        for (String word : words) {
            masked = masked.replaceAll("(?i)" + java.util.regex.Pattern.quote(word), "*".repeat(word.length()));
        }
        return masked;
    }
}
