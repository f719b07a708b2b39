package dev.caravan.config;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;

/**
 * How long a budget's window lasts: {@code 1h}, {@code 1d}, {@code 7d}, {@code 30d} roll from the first charge of a
 * window (a window opens at the first charge after the last one closed); {@code month} is the calendar month, UTC.
 *
 * @param text    as written in config, for messages
 * @param rolling the window's length, or null for {@code month}
 */
public record BudgetPeriod(String text, Duration rolling) {

    public static final BudgetPeriod MONTH = new BudgetPeriod("month", null);

    /** The period named in config, or null when the text names none. */
    public static BudgetPeriod parse(String text) {
        return switch (text) {
            case "1h" -> new BudgetPeriod(text, Duration.ofHours(1));
            case "1d" -> new BudgetPeriod(text, Duration.ofDays(1));
            case "7d" -> new BudgetPeriod(text, Duration.ofDays(7));
            case "30d" -> new BudgetPeriod(text, Duration.ofDays(30));
            case "month" -> MONTH;
            default -> null;
        };
    }

    public boolean calendarMonth() {
        return rolling == null;
    }

    /** Where a window opened by a charge at {@code nowMillis} starts: now, or the first instant of the month. */
    public long windowStart(long nowMillis) {
        if (rolling != null) {
            return nowMillis;
        }
        ZonedDateTime now = Instant.ofEpochMilli(nowMillis).atZone(ZoneOffset.UTC);
        return now.withDayOfMonth(1).toLocalDate().atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
    }

    /** When the window that started at {@code startMillis} closes (exclusive). */
    public long windowEnd(long startMillis) {
        if (rolling != null) {
            return startMillis + rolling.toMillis();
        }
        return Instant.ofEpochMilli(startMillis).atZone(ZoneOffset.UTC).plusMonths(1).toInstant().toEpochMilli();
    }
}
