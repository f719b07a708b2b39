package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.Json;

import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * A JSON Schema (tool parameters, structured output) as Gemini's {@code Schema}, a subset of OpenAPI 3.0: Gemini
 * refuses the whole request over one key it does not know ("Unknown name additionalProperties"), so unknown keys
 * are dropped, local {@code $ref}s are inlined, {@code oneOf} becomes {@code anyOf} and a {@code ["x","null"]}
 * type becomes {@code nullable}.
 */
final class GeminiSchema {

    private static final Set<String> KNOWN = Set.of("type", "format", "title", "description", "nullable", "enum",
            "maxItems", "minItems", "properties", "required", "minProperties", "maxProperties", "minLength",
            "maxLength", "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum");
    // references nest; a recursive schema is cut off here rather than followed forever
    private static final int MAX_DEPTH = 16;

    private GeminiSchema() {
    }

    static ObjectNode of(JsonNode schema) {
        JsonNode defs = schema.has("$defs") ? schema.get("$defs") : schema.path("definitions");
        return convert(schema, defs, 0);
    }

    private static ObjectNode convert(JsonNode schema, JsonNode defs, int depth) {
        ObjectNode out = Json.object();
        if (!schema.isObject() || depth > MAX_DEPTH) {
            return out;
        }
        JsonNode ref = schema.get("$ref");
        if (ref != null && ref.isTextual()) {
            String name = ref.asText().replaceFirst("^#/(\\$defs|definitions)/", "");
            ObjectNode resolved = convert(defs.path(name), defs, depth + 1);
            if (schema.hasNonNull("description")) {
                resolved.put("description", schema.get("description").asText());
            }
            return resolved;
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
                        value.fields().forEachRemaining(p -> properties.set(p.getKey(), convert(p.getValue(), defs, depth + 1)));
                    }
                }
                case "items" -> out.set("items", convert(value, defs, depth + 1));
                case "anyOf", "oneOf" -> {
                    ArrayNode options = out.putArray("anyOf");
                    for (JsonNode option : value) {
                        if (option.path("type").asText().equals("null")) {
                            out.put("nullable", true);
                        } else {
                            options.add(convert(option, defs, depth + 1));
                        }
                    }
                }
                case "const" -> out.putArray("enum").add(value);
                default -> {
                    if (KNOWN.contains(key)) {
                        out.set(key, value.deepCopy());
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
