package dev.caravan.policy.audit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The audit log's second guard against secrets: whoever makes an event leaves secrets out; this removes any field
 * named like one ({@code secret}, {@code key}, {@code sha256}, {@code apiKey}, {@code password}; case, {@code _} and
 * {@code -} ignored, so {@code api_key} too) at any depth, from a copy. The event's own JSON is never changed.
 */
final class SecretFields {

    private static final Set<String> NAMES = Set.of("secret", "key", "sha256", "apikey", "password");

    private SecretFields() {
    }

    /** {@code node} without secret-named fields; null stays null. */
    static JsonNode strip(JsonNode node) {
        if (node == null || node.isNull() || !node.isContainerNode()) {
            return node;
        }
        JsonNode copy = node.deepCopy();
        strip0(copy);
        return copy;
    }

    static boolean isSecretName(String field) {
        return NAMES.contains(field.toLowerCase(Locale.ROOT).replace("_", "").replace("-", ""));
    }

    private static void strip0(JsonNode node) {
        if (node instanceof ObjectNode object) {
            for (Iterator<Map.Entry<String, JsonNode>> it = object.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> field = it.next();
                if (isSecretName(field.getKey())) {
                    it.remove();
                } else {
                    strip0(field.getValue());
                }
            }
        } else if (node instanceof ArrayNode array) {
            array.forEach(SecretFields::strip0);
        }
    }
}
