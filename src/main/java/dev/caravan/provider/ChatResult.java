package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.usage.Usage;

import java.util.Map;

/**
 * A whole (non-streamed) answer in the canonical OpenAI shape.
 *
 * @param headers upstream response headers already filtered to the allow-list
 * @param wire    for a request passed through ({@link dev.caravan.core.PassThrough}): the upstream's own answer, which
 *                the client gets ({@code body} is its canonical view, for the policies and the meters); else null
 */
public record ChatResult(ObjectNode body, Map<String, String> headers, Usage usage, JsonNode wire) {

    public ChatResult(ObjectNode body, Map<String, String> headers, Usage usage) {
        this(body, headers, usage, null);
    }

    /** The same answer with another canonical body (a policy's rewrite); the upstream's own answer stays with it. */
    public ChatResult withBody(ObjectNode changed) {
        return new ChatResult(changed, headers, usage, wire);
    }
}
