package dev.caravan.routing;

import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * An upstream's {@code Retry-After} (RFC 9110 §10.2.3: delta-seconds or an HTTP-date), read defensively: the value
 * is the upstream's to choose, so anything else ({@code Infinity}, {@code -5}, {@code 1e400}) is no value at all,
 * and every value is capped, so one answer cannot take a healthy deployment out for years.
 */
final class RetryAfter {

    // delta-seconds, leniently with a fraction as some servers send ("1.5"); nine digits are already 31 years
    private static final Pattern SECONDS = Pattern.compile("(\\d{1,18})(\\.\\d{1,9})?");
    private static final int HTTP_DATE_MAX_LENGTH = 64;

    private RetryAfter() {
    }

    /** The wait {@code value} asks for, at most {@code cap}; empty when it is neither delta-seconds nor an HTTP-date. */
    static Optional<Duration> parse(String value, Duration cap, Instant now) {
        if (value == null) {
            return Optional.empty();
        }
        String v = value.trim();
        var seconds = SECONDS.matcher(v);
        if (seconds.matches()) {
            String whole = seconds.group(1);
            if (whole.length() > 9) {
                return Optional.of(cap); // more than 31 years: the cap, without arithmetic that could overflow
            }
            String fraction = seconds.group(2);
            long nanos = fraction == null ? 0 : Long.parseLong((fraction.substring(1) + "000000000").substring(0, 9));
            return Optional.of(min(Duration.ofSeconds(Long.parseLong(whole), nanos), cap));
        }
        if (v.length() > HTTP_DATE_MAX_LENGTH) {
            return Optional.empty();
        }
        try {
            Instant at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
            Duration d = Duration.between(now, at);
            return Optional.of(d.isNegative() ? Duration.ZERO : min(d, cap));
        } catch (DateTimeParseException | ArithmeticException notADate) {
            return Optional.empty();
        }
    }

    /** The header a client is given for {@code wait}: whole seconds, rounded up. */
    static String header(Duration wait) {
        long seconds = wait.getSeconds() + (wait.getNano() > 0 ? 1 : 0);
        return Long.toString(seconds);
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
