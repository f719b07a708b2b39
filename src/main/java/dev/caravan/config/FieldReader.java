package dev.caravan.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.time.Duration;
import java.util.List;

/**
 * Reads one field of a config node as the type the gateway uses it as, within the range it can use, so a value
 * that passes the schema cannot fail later (an overflowing duration, an int that wraps). Each refusal is one line,
 * {@code <path>: <problem>}, with the path as it reads in the file ({@code models[0].timeout}); a bad value yields
 * the fallback so the rest of the file is still checked and every problem is reported at once.
 */
final class FieldReader {

    private static final int QUOTE_LIMIT = 40; // values quoted in a problem are cut: a problem is one short line

    private final List<String> problems;

    FieldReader(List<String> problems) {
        this.problems = problems;
    }

    void problem(String path, String what) {
        problems.add(path + ": " + what);
    }

    static String at(String path, String field) {
        return path.isEmpty() ? field : path + "." + field;
    }

    /** A duration in [{@code min}, {@code max}], or {@code fallback} when absent. */
    Duration duration(JsonNode parent, String path, String field, Duration fallback, Duration min, Duration max) {
        JsonNode n = parent == null ? null : parent.get(field);
        if (n == null || n.isNull()) {
            return fallback;
        }
        String where = at(path, field);
        Duration d;
        try {
            d = ConfigLoader.parseDuration(n.asText());
        } catch (IllegalArgumentException e) {
            problem(where, e.getMessage());
            return fallback;
        }
        if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
            problem(where, quote(n.asText()) + " is out of range (" + format(min) + " to " + format(max) + ")");
            return fallback;
        }
        return d;
    }

    /** A whole number in [{@code min}, {@code max}], or {@code fallback} when absent. */
    int integer(JsonNode parent, String path, String field, int fallback, int min, int max) {
        JsonNode n = parent == null ? null : parent.get(field);
        if (n == null || n.isNull()) {
            return fallback;
        }
        String where = at(path, field);
        if (!n.isNumber() || !n.canConvertToExactIntegral() || !n.canConvertToInt()
                || n.asLong() < min || n.asLong() > max) {
            problem(where, quote(n.asText()) + " is not a whole number from " + min + " to " + max);
            return fallback;
        }
        return n.asInt();
    }

    /** A finite number in [{@code min}, {@code max}], or {@code fallback} when absent. */
    double number(JsonNode parent, String path, String field, double fallback, double min, double max) {
        JsonNode n = parent == null ? null : parent.get(field);
        if (n == null || n.isNull()) {
            return fallback;
        }
        double v = n.asDouble(Double.NaN);
        if (!n.isNumber() || !Double.isFinite(v) || v < min || v > max) {
            problem(at(path, field), quote(n.asText()) + " is not a number from " + plain(min) + " to " + plain(max));
            return fallback;
        }
        return v;
    }

    static String quote(String value) {
        String v = value.length() > QUOTE_LIMIT ? value.substring(0, QUOTE_LIMIT) + "…" : value;
        return "'" + v.replaceAll("\\p{Cntrl}", "?") + "'"; // a value with a newline stays on its line
    }

    private static String plain(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }

    private static String format(Duration d) {
        if (d.isZero()) {
            return "0";
        }
        if (d.toMillis() < 1000 || d.toMillis() % 1000 != 0) {
            return d.toMillis() + "ms";
        }
        long s = d.toSeconds();
        if (s % 3600 == 0) {
            return s / 3600 + "h";
        }
        return s % 60 == 0 ? s / 60 + "m" : s + "s";
    }
}
