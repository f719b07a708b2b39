package dev.caravan.admin;

import javax.sql.DataSource;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * The admin API's reads of the spend ledger ({@code spend_ledger}, db/migration/V1): spend summed by one dimension,
 * and the rows themselves, newest first, a page at a time. The same SQL on H2 and PostgreSQL, prepared statements
 * only; the few names spliced into the text come from {@link GroupBy}, never from the caller. Runs on the admin
 * pool, never on the request path.
 */
final class LedgerQueries {

    /** What spend is grouped by: the dimension's name in the API and its expression in SQL. */
    enum GroupBy {
        KEY("key", "key_id"),
        TEAM("team", "team"),
        MODEL("model", "model"),
        DEPLOYMENT("deployment", "deployment"),
        INGRESS("ingress", "ingress"),
        // whole UTC days since the epoch: integer division is exact and the same on both databases, where their
        // date functions and time-zone rules are not; Java names the day
        DAY("day", "ts_millis / 86400000");

        final String text;
        final String sql;

        GroupBy(String text, String sql) {
            this.text = text;
            this.sql = sql;
        }

        /** The dimension named {@code text}, or null. */
        static GroupBy parse(String text) {
            for (GroupBy g : values()) {
                if (g.text.equals(text)) {
                    return g;
                }
            }
            return null;
        }
    }

    /**
     * Which rows: each part null for "any".
     *
     * @param fromMillis first {@code ts_millis} included
     * @param toMillis   first {@code ts_millis} no longer included
     * @param statusLow  lowest status included, with {@code statusHigh} the first one excluded (429..430, 400..500)
     */
    record Filter(Long fromMillis, Long toMillis, String team, String key, String model, Integer statusLow,
                  Integer statusHigh) {

        static final Filter ALL = new Filter(null, null, null, null, null, null, null);

        Filter withTeam(String team) {
            return new Filter(fromMillis, toMillis, team, key, model, statusLow, statusHigh);
        }
    }

    /** Sums over a set of rows; money in nano-dollars, exact (a sum may outgrow a long, so BigDecimal). */
    record Totals(long requests, long promptTokens, long completionTokens, long cachedTokens, BigDecimal costNanos) {

        static final Totals NONE = new Totals(0, 0, 0, 0, BigDecimal.ZERO);

        Totals plus(Totals o) {
            return new Totals(requests + o.requests, promptTokens + o.promptTokens,
                    completionTokens + o.completionTokens, cachedTokens + o.cachedTokens, costNanos.add(o.costNanos));
        }
    }

    /** One group: its value (a key id, a team, ..., a day as YYYY-MM-DD; null for rows without one) and its sums. */
    record Group(String value, Totals totals) {
    }

    /** One ledger row, as stored. */
    record Row(String requestId, long tsMillis, String key, String team, String model, String deployment,
               String operation, int status, String outcome, String errorCode, long promptTokens,
               long completionTokens, long cachedTokens, long costNanos, long latencyMs, boolean usageEstimated,
               boolean stream) {
    }

    /**
     * Where a page ended: the last row's (time, id). The next page is everything strictly older in that order, so
     * rows written meanwhile never shift it: a newer row is not on it, an older late one lands on a later page.
     */
    record Cursor(long tsMillis, String requestId) {

        /** Opaque to clients: base64url of {@code <ts_millis>:<request_id>}. */
        String encode() {
            return Base64.getUrlEncoder().withoutPadding()
                    .encodeToString((tsMillis + ":" + requestId).getBytes(StandardCharsets.UTF_8));
        }

        /** The cursor {@link #encode()} made; IllegalArgumentException for anything else. */
        static Cursor decode(String text) {
            String plain = new String(Base64.getUrlDecoder().decode(text), StandardCharsets.UTF_8);
            int colon = plain.indexOf(':');
            if (colon < 1 || colon == plain.length() - 1 || plain.length() - colon - 1 > 64) {
                throw new IllegalArgumentException("not a cursor");
            }
            return new Cursor(Long.parseLong(plain.substring(0, colon)), plain.substring(colon + 1));
        }
    }

    /** Rows newest first, and where the next page starts (null when this was the last). */
    record Page(List<Row> rows, Cursor next) {
    }

    private static final String ROW_COLUMNS = "request_id, ts_millis, key_id, team, model, deployment, operation, "
            + "status, outcome, error_code, prompt_tokens, completion_tokens, cached_tokens, cost_nanos, latency_ms, "
            + "usage_estimated, stream";

    private final DataSource dataSource;

    LedgerQueries(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * The rows of {@code filter} summed by {@code by}: days in order, other groups by cost (highest first), then by
     * name, rows without a value last.
     */
    List<Group> spend(GroupBy by, Filter filter) throws SQLException {
        List<Object> args = new ArrayList<>();
        String order = by == GroupBy.DAY ? "g" : "cost DESC, g NULLS LAST";
        String sql = "SELECT " + by.sql + " AS g, COUNT(*) AS requests, SUM(prompt_tokens) AS prompt, "
                + "SUM(completion_tokens) AS completion, SUM(cached_tokens) AS cached, SUM(cost_nanos) AS cost "
                + "FROM spend_ledger" + where(filter, args) + " GROUP BY " + by.sql + " ORDER BY " + order;
        List<Group> groups = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            bind(s, args);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    String value = by == GroupBy.DAY ? LocalDate.ofEpochDay(r.getLong(1)).toString() : r.getString(1);
                    groups.add(new Group(value, new Totals(r.getLong(2), r.getLong(3), r.getLong(4), r.getLong(5),
                            r.getBigDecimal(6))));
                }
            }
        }
        return groups;
    }

    /** Up to {@code limit} rows of {@code filter} older than {@code after} (all when null), newest first. */
    Page requests(Filter filter, Cursor after, int limit) throws SQLException {
        List<Object> args = new ArrayList<>();
        StringBuilder sql = new StringBuilder("SELECT ").append(ROW_COLUMNS).append(" FROM spend_ledger")
                .append(where(filter, args));
        if (after != null) {
            sql.append(args.isEmpty() ? " WHERE " : " AND ")
                    .append("(ts_millis < ? OR (ts_millis = ? AND request_id < ?))");
            args.add(after.tsMillis());
            args.add(after.tsMillis());
            args.add(after.requestId());
        }
        // request_id breaks ties between rows of one millisecond, so the order is total and a cursor exact
        sql.append(" ORDER BY ts_millis DESC, request_id DESC LIMIT ?");
        args.add(limit + 1); // one more than asked: whether another page exists, without a COUNT
        List<Row> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql.toString())) {
            bind(s, args);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    rows.add(new Row(r.getString(1), r.getLong(2), r.getString(3), r.getString(4), r.getString(5),
                            r.getString(6), r.getString(7), r.getInt(8), r.getString(9), r.getString(10),
                            r.getLong(11), r.getLong(12), r.getLong(13), r.getLong(14), r.getLong(15),
                            r.getBoolean(16), r.getBoolean(17)));
                }
            }
        }
        if (rows.size() <= limit) {
            return new Page(rows, null);
        }
        rows.remove(limit);
        Row last = rows.get(limit - 1);
        return new Page(rows, new Cursor(last.tsMillis(), last.requestId()));
    }

    /** Whether the ledger holds any row of {@code key} in {@code team}. */
    boolean keyHasRowsIn(String key, String team) throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement s = c.prepareStatement(
                     "SELECT 1 FROM spend_ledger WHERE key_id = ? AND team = ? LIMIT 1")) {
            s.setString(1, key);
            s.setString(2, team);
            try (ResultSet r = s.executeQuery()) {
                return r.next();
            }
        }
    }

    private static String where(Filter f, List<Object> args) {
        List<String> terms = new ArrayList<>();
        if (f.fromMillis() != null) {
            terms.add("ts_millis >= ?");
            args.add(f.fromMillis());
        }
        if (f.toMillis() != null) {
            terms.add("ts_millis < ?");
            args.add(f.toMillis());
        }
        if (f.team() != null) {
            terms.add("team = ?");
            args.add(f.team());
        }
        if (f.key() != null) {
            terms.add("key_id = ?");
            args.add(f.key());
        }
        if (f.model() != null) {
            terms.add("model = ?");
            args.add(f.model());
        }
        if (f.statusLow() != null) {
            terms.add("status >= ? AND status < ?");
            args.add(f.statusLow());
            args.add(f.statusHigh());
        }
        return terms.isEmpty() ? "" : " WHERE " + String.join(" AND ", terms);
    }

    private static void bind(PreparedStatement s, List<Object> args) throws SQLException {
        for (int i = 0; i < args.size(); i++) {
            Object a = args.get(i);
            if (a instanceof Long l) {
                s.setLong(i + 1, l);
            } else if (a instanceof Integer n) {
                s.setInt(i + 1, n);
            } else {
                s.setString(i + 1, (String) a);
            }
        }
    }
}
