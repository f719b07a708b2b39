package dev.caravan.provider;

import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * A JSON Schema (tool parameters, structured output) as Gemini's {@code Schema}, a subset of OpenAPI 3.0: Gemini
 * refuses the whole request over one key it does not know ("Unknown name additionalProperties"), so unknown keys
 * are dropped, local {@code $ref}s are inlined, {@code oneOf} becomes {@code anyOf} and a {@code ["x","null"]}
 * type becomes {@code nullable}. Inlining is bounded (output size, depth, no cycles) and refused with a 400 past it.
 */
final class GeminiSchema {

    private static final Set<String> KNOWN = Set.of("type", "format", "title", "description", "nullable", "enum",
            "maxItems", "minItems", "properties", "required", "minProperties", "maxProperties", "minLength",
            "maxLength", "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum");
    // inlining copies a definition at every reference, so the output can be exponentially larger than the request
    // (581 bytes became 157 MB): a request's schemas may translate to at most this much JSON, estimated as it grows
    static final long MAX_OUTPUT_BYTES = 4L * 1024 * 1024;
    // OpenAI's structured outputs allow 10 levels of objects; each is a level here, and so is each items or anyOf
    static final int MAX_DEPTH = 32;

    private GeminiSchema() {
    }

    /** What one request's schemas may still produce: shared by all its tools and its response format. */
    static final class Budget {
        private long left = MAX_OUTPUT_BYTES;

        private void spend(long bytes, String param) {
            left -= bytes;
            if (left < 0) {
                throw GatewayException.badRequest("schema_too_large", param, "The schema at '" + param
                        + "' is too large for a Gemini deployment: Gemini takes no $ref, so every reference is inlined, "
                        + "and the request's schemas would become more than " + MAX_OUTPUT_BYTES + " bytes.");
            }
        }
    }

    /**
     * {@code schema} in Gemini's dialect. {@code param} names it in a refusal: a schema that is recursive, nests
     * deeper than {@link #MAX_DEPTH} or outgrows what is left of {@code budget} is a 400, found before the output
     * grows past the budget.
     */
    static ObjectNode of(JsonNode schema, String param, Budget budget) {
        return new Translation(schema, param, budget).convert(schema, 0);
    }

    private static final class Translation {
        private final JsonNode root;
        private final String param;
        private final Budget budget;
        // the references being inlined, outermost first: one seen again is a cycle
        private final Deque<String> resolving = new ArrayDeque<>();

        Translation(JsonNode root, String param, Budget budget) {
            this.root = root;
            this.param = param;
            this.budget = budget;
        }

        ObjectNode convert(JsonNode schema, int depth) {
            if (depth > MAX_DEPTH) {
                throw GatewayException.badRequest("schema_too_deep", param, "The schema at '" + param
                        + "' nests deeper than " + MAX_DEPTH + " levels, more than a Gemini deployment takes.");
            }
            budget.spend(16, param); // an object, its braces and the key that holds it
            ObjectNode out = Json.object();
            if (!schema.isObject()) {
                return out;
            }
            JsonNode ref = schema.get("$ref");
            if (ref != null && ref.isTextual()) {
                return inline(schema, ref.asText(), depth);
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = schema.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> field = it.next();
                String key = field.getKey();
                JsonNode value = field.getValue();
                switch (key) {
                    case "type" -> type(value, out);
                    case "properties" -> {
                        // an empty map is refused ("should be non-empty for OBJECT type"); a free-form object is not
                        if (!value.isEmpty()) {
                            ObjectNode properties = out.putObject("properties");
                            for (Iterator<Map.Entry<String, JsonNode>> p = value.fields(); p.hasNext(); ) {
                                Map.Entry<String, JsonNode> property = p.next();
                                budget.spend(property.getKey().length(), param);
                                properties.set(property.getKey(), convert(property.getValue(), depth + 1));
                            }
                        }
                    }
                    case "items" -> out.set("items", convert(value, depth + 1));
                    case "anyOf", "oneOf" -> {
                        ArrayNode options = out.putArray("anyOf");
                        for (JsonNode option : value) {
                            if (option.path("type").asText().equals("null")) {
                                out.put("nullable", true);
                            } else {
                                options.add(convert(option, depth + 1));
                            }
                        }
                    }
                    case "const" -> out.putArray("enum").add(copy(value));
                    default -> {
                        if (KNOWN.contains(key)) {
                            out.set(key, copy(value));
                        }
                    }
                }
            }
            // strings know only these two formats; "uri", "email" and the like are refused
            if (out.path("type").asText().equalsIgnoreCase("string")
                    && !Set.of("enum", "date-time").contains(out.path("format").asText("enum"))) {
                out.remove("format");
            }
            // a union of one left after dropping "null" is just that one
            if (out.path("anyOf").size() == 1 && !out.has("type")) {
                ObjectNode only = (ObjectNode) out.remove("anyOf").get(0);
                only.setAll(out);
                return only;
            }
            return out;
        }

        /** A local reference ({@code #/$defs/x}, any JSON pointer into this schema) replaced by what it points to. */
        private ObjectNode inline(JsonNode schema, String ref, int depth) {
            if (resolving.contains(ref)) {
                throw GatewayException.badRequest("schema_recursive", param, "The schema at '" + param
                        + "' is recursive (a $ref refers back to a schema that contains it): Gemini takes no $ref, "
                        + "and a recursive schema cannot be inlined.");
            }
            JsonNode target = resolve(ref);
            resolving.push(ref);
            ObjectNode resolved = convert(target, depth + 1);
            resolving.pop();
            if (schema.hasNonNull("description")) {
                resolved.set("description", copy(schema.get("description")));
            }
            return resolved;
        }

        private JsonNode resolve(String ref) {
            if (!ref.startsWith("#")) {
                return MissingNode.getInstance(); // a remote schema is not fetched: an empty one stands in
            }
            try {
                return root.at(JsonPointer.compile(ref.substring(1)));
            } catch (IllegalArgumentException notAPointer) {
                return MissingNode.getInstance();
            }
        }

        /** A copy of a value kept as it is, paid for by its size; a large one is refused before it is walked twice. */
        private JsonNode copy(JsonNode value) {
            budget.spend(sizeOf(value, budget.left + 1), param);
            return value.deepCopy();
        }
    }

    /** About how many bytes {@code node} takes as JSON, counted no further than {@code enough}. */
    private static long sizeOf(JsonNode node, long enough) {
        if (node.isTextual()) {
            return node.textValue().length() + 2L;
        }
        if (!node.isContainerNode()) {
            return 8;
        }
        long size = 2;
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext() && size < enough; ) {
            Map.Entry<String, JsonNode> field = it.next();
            size += field.getKey().length() + 4 + sizeOf(field.getValue(), enough - size);
        }
        if (node.isArray()) {
            for (int i = 0; i < node.size() && size < enough; i++) {
                size += 1 + sizeOf(node.get(i), enough - size);
            }
        }
        return size;
    }

    private static void type(JsonNode value, ObjectNode out) {
        if (value.isTextual()) {
            out.put("type", value.asText());
            return;
        }
        for (JsonNode t : value) {
            if (t.asText().equals("null")) {
                out.put("nullable", true);
            } else if (!out.has("type")) {
                out.put("type", t.asText());
            }
        }
    }
}
