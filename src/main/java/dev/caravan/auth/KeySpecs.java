package dev.caravan.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.Budget;
import dev.caravan.config.BudgetPeriod;
import dev.caravan.config.Limits;
import dev.caravan.core.Json;

import java.math.BigDecimal;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The JSON of a key's or team's settings, as the admin API shows them and the database keeps them: {@code models},
 * {@code limits}, {@code budget}, {@code regions}, {@code metadata}. Money is written as an exact decimal.
 */
public final class KeySpecs {

    private KeySpecs() {
    }

    /** The settings as one JSON object (absent fields: not set). */
    public static ObjectNode write(Set<String> models, Limits limits, Budget budget, Set<String> regions,
                                   Map<String, String> metadata) {
        ObjectNode spec = Json.object();
        if (models != null) {
            ArrayNode m = spec.putArray("models");
            new TreeSet<>(models).forEach(m::add);
        }
        if (limits != null && !limits.isEmpty()) {
            spec.set("limits", limits(limits));
        }
        if (budget != null) {
            spec.set("budget", budget(budget));
        }
        if (regions != null) {
            ArrayNode r = spec.putArray("regions");
            new TreeSet<>(regions).forEach(r::add);
        }
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode md = spec.putObject("metadata");
            new TreeMap<>(metadata).forEach(md::put);
        }
        return spec;
    }

    public static ObjectNode limits(Limits limits) {
        ObjectNode l = Json.object();
        if (limits.limitsRequests()) {
            l.put("rpm", limits.rpm());
        }
        if (limits.limitsTokens()) {
            l.put("tpm", limits.tpm());
        }
        return l;
    }

    public static ObjectNode budget(Budget budget) {
        ObjectNode b = Json.object();
        b.put("usd", usd(budget.limitNanos()));
        b.put("period", budget.period().text());
        if (budget.alerts()) {
            b.put("alertAt", usd(budget.alertAtNanos()));
        }
        return b;
    }

    /** Nano-dollars as an exact decimal number of USD. */
    public static BigDecimal usd(long nanos) {
        BigDecimal usd = BigDecimal.valueOf(nanos, 9).stripTrailingZeros();
        return usd.scale() < 0 ? usd.setScale(0) : usd; // 100, not 1E+2
    }

    public static Set<String> models(JsonNode spec) {
        return strings(spec.get("models"));
    }

    public static Set<String> regions(JsonNode spec) {
        return strings(spec.get("regions"));
    }

    public static Limits limits(JsonNode spec) {
        JsonNode l = spec.get("limits");
        if (l == null || l.isNull()) {
            return Limits.NONE;
        }
        return new Limits(l.has("rpm") ? l.get("rpm").asLong() : Limits.NONE_SET,
                l.has("tpm") ? l.get("tpm").asLong() : Limits.NONE_SET);
    }

    public static Budget budget(JsonNode spec) {
        JsonNode b = spec.get("budget");
        if (b == null || b.isNull()) {
            return null;
        }
        BudgetPeriod period = BudgetPeriod.parse(b.path("period").asText("30d"));
        return new Budget(nanos(b.get("usd").decimalValue()), period == null ? BudgetPeriod.MONTH : period,
                b.has("alertAt") ? nanos(b.get("alertAt").decimalValue()) : -1);
    }

    public static Map<String, String> metadata(JsonNode spec) {
        Map<String, String> out = new TreeMap<>();
        spec.path("metadata").fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
    }

    public static long nanos(BigDecimal usd) {
        return usd.movePointRight(9).setScale(0, java.math.RoundingMode.HALF_UP).longValueExact();
    }

    private static Set<String> strings(JsonNode array) {
        if (array == null || array.isNull()) {
            return null;
        }
        Set<String> out = new TreeSet<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }
}
