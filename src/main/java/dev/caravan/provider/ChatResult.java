package dev.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.usage.Usage;

import java.util.Map;

/**
 * A whole (non-streamed) answer in the canonical OpenAI shape.
 *
 * @param headers upstream response headers already filtered to the allow-list
 */
public record ChatResult(ObjectNode body, Map<String, String> headers, Usage usage) {
}
