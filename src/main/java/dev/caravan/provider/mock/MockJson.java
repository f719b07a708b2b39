package dev.caravan.provider.mock;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A JSON value valid against a JSON Schema (the subset tool parameters and structured outputs use), made
 * deterministically from the schema and the prompt: the mock's tool arguments and {@code json_schema} answers.
 * Strings take plausible values from the prompt where a property's name suggests one (a city after "in", a number
 * the prompt gives, an enum value it names). Depth and size are bounded, so a hostile or recursive schema costs
 * little; past the bounds values get minimal, and may then miss a constraint the schema has.
 */
public final class MockJson {

    static final int MAX_DEPTH = 8;
    static final int MAX_PROPERTIES = 64;
    static final int MAX_ITEMS = 64;
    static final int MAX_NODES = 1024;

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final Set<String> PLACE_NAMES = Set.of("city", "location", "place", "town", "country", "region",
            "destination", "where", "address", "area");
    private static final Set<String> TEXT_NAMES = Set.of("query", "q", "question", "text", "prompt", "input",
            "message", "search", "content", "topic", "keywords", "term");
    private static final Pattern PLACE = Pattern.compile("\\b(?:in|at|for|to|from|near)\\s+((?:\\p{Lu}[\\p{L}-]*)(?:\\s+\\p{Lu}[\\p{L}-]*)*)");
    private static final Pattern NUMBER = Pattern.compile("-?\\d+(?:\\.\\d+)?");

    private final JsonNode root;
    private final String prompt;
    private int nodes;

    private MockJson(JsonNode root, String prompt) {
        this.root = root;
        this.prompt = prompt == null ? "" : prompt;
    }

    /** A value valid against {@code schema} (a missing or empty schema gives an empty object), hinted by the prompt. */
    public static JsonNode valueFor(JsonNode schema, String prompt) {
        return valueFor(schema, prompt, 0);
    }

    /** As {@link #valueFor(JsonNode, String)}, varied by {@code variant} (strings, numbers, enum picks): one per choice. */
    public static JsonNode valueFor(JsonNode schema, String prompt, int variant) {
        if (schema == null || schema.isMissingNode() || schema.isNull()) {
            return Json.object();
        }
        return new MockJson(schema, prompt).value(schema, null, 0, variant);
    }

    private JsonNode value(JsonNode schema, String name, int depth, int variant) {
        nodes++;
        if (schema == null || schema.isBoolean() || !schema.isObject()) {
            return NODES.textNode(placeholder(name, variant));
        }
        String ref = schema.path("$ref").asText(null);
        if (ref != null) {
            JsonNode target = depth < MAX_DEPTH ? resolve(ref) : null;
            return target != null ? value(target, name, depth + 1, variant) : minimal(schema);
        }
        if (schema.has("const")) {
            return schema.get("const");
        }
        JsonNode enumValues = schema.get("enum");
        if (enumValues != null && enumValues.isArray() && !enumValues.isEmpty()) {
            return pickEnum(enumValues, variant);
        }
        for (String branch : new String[] {"anyOf", "oneOf"}) {
            JsonNode branches = schema.get(branch);
            if (branches != null && branches.isArray() && !branches.isEmpty()) {
                return value(firstNonNull(branches), name, depth + 1, variant);
            }
        }
        JsonNode allOf = schema.get("allOf");
        if (allOf != null && allOf.isArray() && !allOf.isEmpty()) {
            return value(merged(schema, allOf, depth), name, depth + 1, variant);
        }
        if (depth >= MAX_DEPTH || nodes > MAX_NODES) {
            return minimal(schema);
        }
        return switch (type(schema)) {
            case "object" -> object(schema, depth, variant);
            case "array" -> array(schema, name, depth);
            case "integer" -> number(schema, name, true, variant);
            case "number" -> number(schema, name, false, variant);
            case "boolean" -> NODES.booleanNode(true);
            case "null" -> NODES.nullNode();
            default -> NODES.textNode(string(schema, name, variant));
        };
    }

    /** The schema's type; the first that is not null of a list, else inferred from the keywords it has. */
    private static String type(JsonNode schema) {
        JsonNode t = schema.get("type");
        if (t != null && t.isTextual()) {
            return t.asText();
        }
        if (t != null && t.isArray()) {
            for (JsonNode each : t) {
                if (!"null".equals(each.asText())) {
                    return each.asText();
                }
            }
            return "null";
        }
        if (schema.has("properties") || schema.has("required") || schema.has("additionalProperties")) {
            return "object";
        }
        if (schema.has("items") || schema.has("prefixItems")) {
            return "array";
        }
        if (schema.has("minimum") || schema.has("maximum") || schema.has("multipleOf")) {
            return "number";
        }
        return "string";
    }

    private ObjectNode object(JsonNode schema, int depth, int variant) {
        ObjectNode out = Json.object();
        JsonNode properties = schema.path("properties");
        Set<String> required = new LinkedHashSet<>();
        schema.path("required").forEach(r -> required.add(r.asText()));
        int minProperties = schema.path("minProperties").asInt(0);
        String lowerPrompt = prompt.toLowerCase(Locale.ROOT);
        // required ones first, then the optional ones the prompt mentions or minProperties needs, in schema order
        for (String key : required) {
            if (out.size() >= MAX_PROPERTIES) {
                return out;
            }
            out.set(key, value(properties.get(key), key, depth + 1, variant));
        }
        Iterator<Map.Entry<String, JsonNode>> it = properties.fields();
        while (it.hasNext() && out.size() < MAX_PROPERTIES) {
            Map.Entry<String, JsonNode> p = it.next();
            if (!out.has(p.getKey()) && (out.size() < minProperties || lowerPrompt.contains(p.getKey().toLowerCase(Locale.ROOT)))) {
                out.set(p.getKey(), value(p.getValue(), p.getKey(), depth + 1, variant));
            }
        }
        JsonNode extra = schema.get("additionalProperties");
        for (int i = 1; out.size() < minProperties && out.size() < MAX_PROPERTIES && !(extra != null && extra.isBoolean() && !extra.asBoolean()); i++) {
            out.set("key" + i, value(extra != null && extra.isObject() ? extra : Json.object(), "key" + i, depth + 1, i));
        }
        return out;
    }

    private ArrayNode array(JsonNode schema, String name, int depth) {
        ArrayNode out = Json.MAPPER.createArrayNode();
        JsonNode prefix = schema.path("prefixItems");
        int min = schema.path("minItems").asInt(0);
        int max = schema.path("maxItems").asInt(MAX_ITEMS);
        // one item shows what a list holds (deep down, none: a recursive schema ends); minItems or prefixItems may ask for more
        int wanted = depth < MAX_DEPTH / 2 ? Math.max(min, 1) : min;
        int count = Math.min(Math.min(Math.max(wanted, prefix.size()), max), MAX_ITEMS);
        JsonNode items = schema.get("items");
        if (items != null && items.isBoolean() && !items.asBoolean()) {
            count = Math.min(count, prefix.size());
        }
        for (int i = 0; i < count && nodes <= MAX_NODES; i++) {
            JsonNode itemSchema = i < prefix.size() ? prefix.get(i) : items != null && items.isObject() ? items : Json.object();
            out.add(value(itemSchema, name, depth + 1, i));
        }
        return out;
    }

    private JsonNode number(JsonNode schema, String name, boolean integer, int variant) {
        BigDecimal low = decimal(schema, "minimum");
        BigDecimal high = decimal(schema, "maximum");
        BigDecimal exclusiveLow = decimal(schema, "exclusiveMinimum");
        BigDecimal exclusiveHigh = decimal(schema, "exclusiveMaximum");
        BigDecimal step = decimal(schema, "multipleOf");
        if (step != null && step.signum() <= 0) {
            step = null;
        }
        if (integer) {
            step = step == null ? BigDecimal.ONE : lcmWithOne(step);
        }
        BigDecimal candidate = fromPrompt(name);
        if (candidate == null || !fits(candidate, low, high, exclusiveLow, exclusiveHigh, step)) {
            BigDecimal start = low != null ? low : exclusiveLow != null ? exclusiveLow : high != null
                    ? high.min(BigDecimal.ONE) : exclusiveHigh != null ? exclusiveHigh.subtract(BigDecimal.ONE).min(BigDecimal.ONE) : BigDecimal.ONE;
            BigDecimal unit = step != null ? step : BigDecimal.ONE;
            candidate = start.add(unit.multiply(BigDecimal.valueOf(variant)));
            if (step != null) {
                candidate = candidate.divide(step, 0, RoundingMode.CEILING).multiply(step);
            }
            if (exclusiveLow != null && candidate.compareTo(exclusiveLow) <= 0) {
                candidate = step != null ? candidate.add(step) : exclusiveLow.add(exclusiveHigh != null
                        ? exclusiveHigh.subtract(exclusiveLow).divide(BigDecimal.valueOf(2), 10, RoundingMode.HALF_UP).min(BigDecimal.ONE)
                        : BigDecimal.ONE);
            }
            if (!fits(candidate, low, high, exclusiveLow, exclusiveHigh, step)) {
                candidate = start; // a range too narrow for the variant: its lower end
            }
        }
        candidate = candidate.stripTrailingZeros();
        if (integer || candidate.scale() <= 0) {
            return NODES.numberNode(candidate.setScale(0, RoundingMode.HALF_UP).toBigInteger());
        }
        return NODES.numberNode(candidate);
    }

    /** An integer schema's multipleOf is at least a whole step: 0.5 for an integer means 1. */
    private static BigDecimal lcmWithOne(BigDecimal step) {
        BigDecimal s = step;
        while (s.stripTrailingZeros().scale() > 0) {
            s = s.add(step);
        }
        return s;
    }

    private static boolean fits(BigDecimal v, BigDecimal low, BigDecimal high, BigDecimal exLow, BigDecimal exHigh, BigDecimal step) {
        return (low == null || v.compareTo(low) >= 0) && (high == null || v.compareTo(high) <= 0)
                && (exLow == null || v.compareTo(exLow) > 0) && (exHigh == null || v.compareTo(exHigh) < 0)
                && (step == null || v.remainder(step).signum() == 0);
    }

    private static BigDecimal decimal(JsonNode schema, String keyword) {
        JsonNode v = schema.get(keyword);
        return v != null && v.isNumber() ? v.decimalValue() : null;
    }

    /**
     * The number the prompt gives next to the property's name ("for 4 people", "days: 3"), else the prompt's first
     * number; null for an unnamed value or a prompt without numbers.
     */
    private BigDecimal fromPrompt(String name) {
        if (name == null) {
            return null;
        }
        String word = Pattern.quote(name.toLowerCase(Locale.ROOT));
        String lower = prompt.toLowerCase(Locale.ROOT);
        Matcher near = Pattern.compile("(-?\\d+(?:\\.\\d+)?)\\s+" + word + "|" + word + "\\s*(?:of|is|=|:)?\\s*(-?\\d+(?:\\.\\d+)?)").matcher(lower);
        if (near.find()) {
            return new BigDecimal(near.group(1) != null ? near.group(1) : near.group(2));
        }
        Matcher m = NUMBER.matcher(prompt);
        return m.find() ? new BigDecimal(m.group()) : null;
    }

    private String string(JsonNode schema, String name, int variant) {
        int min = schema.path("minLength").asInt(0);
        int max = Math.min(schema.path("maxLength").asInt(Integer.MAX_VALUE), 4096);
        String format = schema.path("format").asText("");
        String value = switch (format) {
            case "date" -> "2024-01-0" + (1 + variant % 9);
            case "date-time" -> "2024-01-0" + (1 + variant % 9) + "T00:00:00Z";
            case "time" -> "00:00:0" + (variant % 10) + "Z";
            case "email", "idn-email" -> "user" + (variant == 0 ? "" : variant) + "@example.com";
            case "uri", "url", "iri", "uri-reference", "iri-reference" -> "https://example.com/" + (variant == 0 ? "" : variant);
            case "uuid" -> String.format("00000000-0000-4000-8000-%012d", variant);
            case "ipv4" -> "192.0.2." + (1 + variant % 250);
            case "ipv6" -> "2001:db8::" + (1 + variant % 250);
            case "hostname", "idn-hostname" -> "host" + variant + ".example.com";
            case "duration" -> "PT" + (1 + variant) + "M";
            default -> null;
        };
        if (value == null) {
            value = fromPromptText(name);
            if (value == null) {
                value = placeholder(name, variant);
            } else if (variant > 0) {
                value = value + " " + variant;
            }
        }
        String pattern = schema.path("pattern").asText(null);
        if (pattern != null) {
            value = matching(pattern, value, min, max);
        }
        if (value.length() > max) {
            value = value.substring(0, max);
        }
        StringBuilder padded = new StringBuilder(value);
        while (padded.length() < min) {
            padded.append('x');
        }
        return padded.toString();
    }

    /** A place named after "in"/"for"/"to" for a place-like property; the prompt itself for a query-like one. */
    private String fromPromptText(String name) {
        if (name == null || prompt.isBlank()) {
            return null;
        }
        String key = name.toLowerCase(Locale.ROOT);
        if (PLACE_NAMES.stream().anyMatch(key::contains)) {
            Matcher m = PLACE.matcher(prompt);
            return m.find() ? m.group(1) : null;
        }
        if (TEXT_NAMES.contains(key)) {
            String p = prompt.strip();
            return p.length() > 200 ? p.substring(0, 200) : p;
        }
        return null;
    }

    private static String placeholder(String name, int variant) {
        return (name == null || name.isBlank() ? "mock" : "mock " + name) + (variant == 0 ? "" : " " + variant);
    }

    /** A string the (ECMA, unanchored) pattern accepts: the value itself, one built from a simple pattern, or a few guesses. */
    private static String matching(String pattern, String value, int min, int max) {
        Pattern p;
        try {
            p = Pattern.compile(pattern);
        } catch (RuntimeException e) {
            return value;
        }
        List<String> candidates = new ArrayList<>();
        candidates.add(value);
        String built = SimplePattern.example(pattern);
        if (built != null) {
            candidates.add(built);
        }
        candidates.addAll(List.of("a", "abc", "A", "ABC", "1", "123", "a1", "2024-01-01", "user@example.com", "https://example.com", "x"));
        for (String c : candidates) {
            if (p.matcher(c).find() && c.length() <= max && (c.length() >= min || built == null)) {
                return c;
            }
        }
        return built != null ? built : value;
    }

    private JsonNode pickEnum(JsonNode values, int variant) {
        String lower = prompt.toLowerCase(Locale.ROOT);
        if (variant == 0) {
            for (JsonNode v : values) {
                if (v.isTextual() && v.asText().length() > 1 && lower.contains(v.asText().toLowerCase(Locale.ROOT))) {
                    return v;
                }
            }
        }
        return values.get(variant % values.size());
    }

    private static JsonNode firstNonNull(JsonNode branches) {
        for (JsonNode b : branches) {
            if (!"null".equals(b.path("type").asText())) {
                return b;
            }
        }
        return branches.get(0);
    }

    /** allOf as one schema: the parts' keywords together, their properties and required lists joined. */
    private JsonNode merged(JsonNode schema, JsonNode parts, int depth) {
        ObjectNode out = ((ObjectNode) schema).deepCopy();
        out.remove("allOf");
        ObjectNode properties = out.has("properties") ? (ObjectNode) out.get("properties") : Json.object();
        ArrayNode required = out.has("required") ? (ArrayNode) out.get("required") : Json.MAPPER.createArrayNode();
        for (JsonNode part : parts) {
            JsonNode p = part.has("$ref") && depth < MAX_DEPTH ? resolve(part.get("$ref").asText()) : part;
            if (p == null || !p.isObject()) {
                continue;
            }
            Iterator<Map.Entry<String, JsonNode>> it = p.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                switch (e.getKey()) {
                    case "properties" -> e.getValue().fields().forEachRemaining(f -> properties.set(f.getKey(), f.getValue()));
                    case "required" -> e.getValue().forEach(required::add);
                    default -> out.putIfAbsent(e.getKey(), e.getValue());
                }
            }
        }
        if (!properties.isEmpty()) {
            out.set("properties", properties);
        }
        if (!required.isEmpty()) {
            out.set("required", required);
        }
        return out;
    }

    /** A local reference ({@code #}, {@code #/$defs/X}, {@code #/definitions/X}, any JSON pointer into the root). */
    private JsonNode resolve(String ref) {
        if (!ref.startsWith("#")) {
            return null;
        }
        String pointer = ref.substring(1);
        if (pointer.isEmpty()) {
            return root;
        }
        try {
            JsonNode target = root.at(pointer);
            return target.isMissingNode() ? null : target;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** Past the bounds: the smallest value of the schema's type. */
    private static JsonNode minimal(JsonNode schema) {
        JsonNode t = schema.get("type");
        if (t != null && t.isArray()) {
            for (JsonNode each : t) {
                if ("null".equals(each.asText())) {
                    return NODES.nullNode();
                }
            }
        }
        return switch (type(schema)) {
            case "object" -> Json.object();
            case "array" -> Json.MAPPER.createArrayNode();
            case "integer", "number" -> NODES.numberNode(0);
            case "boolean" -> NODES.booleanNode(false);
            case "null" -> NODES.nullNode();
            default -> NODES.textNode("");
        };
    }
}
