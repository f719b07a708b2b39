package dev.caravan.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.Budget;
import dev.caravan.config.BudgetPeriod;
import dev.caravan.config.ConfigLoader;
import dev.caravan.config.Limits;
import dev.caravan.core.GatewayException;

import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Reads an admin call's JSON body field by field: an unknown field, a value of the wrong type or out of range is a
 * 400 whose {@code param} names the field ({@code budget.usd}); nothing is written before the whole body is read.
 */
final class BodyReader {

    static final Pattern NAME = Pattern.compile("^[A-Za-z0-9._-]{1,128}$");
    static final long MAX_RATE = 1_000_000_000;
    static final BigDecimal MAX_USD = BigDecimal.valueOf(1_000_000_000);

    private final ObjectNode body;

    BodyReader(ObjectNode body, Set<String> allowed) {
        this.body = body;
        for (Iterator<String> names = body.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!allowed.contains(name)) {
                throw bad("unknown_field", name, "Unknown field '" + GatewayException.quote(name) + "'; the fields are "
                        + String.join(", ", new TreeSet<>(allowed)) + ".");
            }
        }
    }

    boolean has(String field) {
        return body.has(field);
    }

    /** Present and JSON null: the field is to be cleared. */
    boolean cleared(String field) {
        return body.has(field) && body.get(field).isNull();
    }

    String name(String field) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isTextual()) {
            throw invalidType(field, "a string");
        }
        if (!NAME.matcher(n.asText()).matches()) {
            throw bad("invalid_value", field, "'" + field + "' may hold 1 to 128 letters, digits and . _ - only.");
        }
        return n.asText();
    }

    String text(String field) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isTextual()) {
            throw invalidType(field, "a string");
        }
        return n.asText();
    }

    Set<String> names(String field) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isArray()) {
            throw invalidType(field, "an array of strings");
        }
        Set<String> out = new TreeSet<>();
        for (JsonNode item : n) {
            if (!item.isTextual() || !item.asText().matches("^[^\\p{Cntrl}]{1,256}$")) {
                throw invalidType(field, "an array of names");
            }
            out.add(item.asText());
        }
        return out;
    }

    Limits limits(String field) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return Limits.NONE;
        }
        if (!n.isObject()) {
            throw invalidType(field, "an object { rpm, tpm }");
        }
        for (Iterator<String> names = n.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!name.equals("rpm") && !name.equals("tpm")) {
                throw bad("unknown_field", field + "." + name, "Unknown field '" + field + "." + GatewayException.quote(name)
                        + "'; limits hold rpm and tpm.");
            }
        }
        return new Limits(rate(n, field, "rpm"), rate(n, field, "tpm"));
    }

    private static long rate(JsonNode limits, String field, String name) {
        JsonNode n = limits.get(name);
        if (n == null || n.isNull()) {
            return Limits.NONE_SET;
        }
        if (!n.canConvertToExactIntegral() || !n.isNumber() || n.asLong() < 0 || n.asLong() > MAX_RATE) {
            throw bad("invalid_value", field + "." + name, "'" + field + "." + name + "' must be a whole number from 0 to "
                    + MAX_RATE + ".");
        }
        return n.asLong();
    }

    Budget budget(String field) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isObject()) {
            throw invalidType(field, "an object { usd, period, alertAt }");
        }
        for (Iterator<String> names = n.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!Set.of("usd", "period", "alertAt").contains(name)) {
                throw bad("unknown_field", field + "." + name, "Unknown field '" + field + "." + GatewayException.quote(name)
                        + "'; a budget holds usd, period and alertAt.");
            }
        }
        BigDecimal usd = money(n, field, "usd", true);
        String periodText = n.path("period").asText("30d");
        if (n.has("period") && !n.get("period").isTextual()) {
            throw invalidType(field + ".period", "a string");
        }
        BudgetPeriod period = BudgetPeriod.parse(periodText);
        if (period == null) {
            throw bad("invalid_value", field + ".period", "'" + GatewayException.quote(periodText)
                    + "' is not a budget period (1h, 1d, 7d, 30d or month).");
        }
        BigDecimal alert = money(n, field, "alertAt", false);
        if (alert != null && alert.compareTo(usd) > 0) {
            throw bad("invalid_value", field + ".alertAt", "'" + field + ".alertAt' is above the budget's usd: it would never fire.");
        }
        return new Budget(dev.caravan.auth.KeySpecs.nanos(usd), period,
                alert == null ? -1 : dev.caravan.auth.KeySpecs.nanos(alert));
    }

    private static BigDecimal money(JsonNode budget, String field, String name, boolean required) {
        JsonNode n = budget.get(name);
        if (n == null || n.isNull()) {
            if (required) {
                throw bad("missing_field", field + "." + name, "'" + field + "." + name + "' is required.");
            }
            return null;
        }
        if (!n.isNumber()) {
            throw invalidType(field + "." + name, "a number of USD");
        }
        BigDecimal usd = n.decimalValue();
        if (usd.signum() < 0 || usd.compareTo(MAX_USD) > 0 || usd.scale() > 9) {
            throw bad("invalid_value", field + "." + name, "'" + field + "." + name
                    + "' must be from 0 to 1000000000 USD, to at most 9 decimals.");
        }
        return usd;
    }

    Map<String, String> metadata(String field) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return Map.of();
        }
        if (!n.isObject() || n.size() > 64) {
            throw invalidType(field, "an object of at most 64 string values");
        }
        Map<String, String> out = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual() || e.getValue().asText().length() > 1024 || e.getKey().length() > 128) {
                throw invalidType(field + "." + e.getKey(), "a string of at most 1024 characters");
            }
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }

    /** {@code 2027-06-30} (the key works through that day, UTC) or an instant; null when absent or null. */
    Instant expiry(String field) {
        String text = text(field);
        if (text == null) {
            return null;
        }
        try {
            return text.contains("T") ? OffsetDateTime.parse(text).toInstant()
                    : LocalDate.parse(text).plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
        } catch (DateTimeParseException e) {
            throw bad("invalid_value", field, "'" + GatewayException.quote(text)
                    + "' is not a date (2027-06-30) or a time (2027-06-30T12:00:00Z).");
        }
    }

    /** A duration ({@code 10m}, {@code 1h}) or a whole number of seconds, from 0 to {@code max}. */
    Duration duration(String field, Duration fallback, Duration max) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            return fallback;
        }
        Duration d;
        if (n.isIntegralNumber()) {
            d = Duration.ofSeconds(n.asLong());
        } else if (n.isTextual()) {
            try {
                d = ConfigLoader.parseDuration(n.asText());
            } catch (IllegalArgumentException e) {
                throw bad("invalid_value", field, "'" + field + "' must be a duration such as 10m or 1h, or seconds.");
            }
        } else {
            throw invalidType(field, "a duration such as 10m, or a number of seconds");
        }
        if (d.isNegative() || d.compareTo(max) > 0) {
            throw bad("invalid_value", field, "'" + field + "' must be from 0 to " + max.toDays() + " days.");
        }
        return d;
    }

    /** {@code models} when each names a model the config defines; else 400 naming the first that does not. */
    static Set<String> knownModels(dev.caravan.config.GatewayConfig now, Set<String> models) {
        if (models != null) {
            for (String m : models) {
                if (now.model(m).isEmpty()) {
                    throw bad("model_not_found", "models", "The model '" + GatewayException.quote(m)
                            + "' is not defined under models.");
                }
            }
        }
        return models;
    }

    /** Writes {@code names} sorted as {@code field}, or null for "no bound" (the form answers show). */
    static void putNames(ObjectNode out, String field, Set<String> names) {
        if (names == null) {
            out.putNull(field);
        } else {
            com.fasterxml.jackson.databind.node.ArrayNode array = out.putArray(field);
            names.stream().sorted().forEach(array::add);
        }
    }

    static GatewayException invalidType(String field, String expected) {
        return bad("invalid_type", field, "'" + field + "' must be " + expected + ".");
    }

    static GatewayException bad(String code, String param, String message) {
        return GatewayException.badRequest(code, param, message);
    }
}
