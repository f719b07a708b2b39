package dev.caravan.admin;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;
import dev.caravan.admin.LedgerQueries.Cursor;
import dev.caravan.admin.LedgerQueries.Filter;
import dev.caravan.admin.LedgerQueries.Group;
import dev.caravan.admin.LedgerQueries.GroupBy;
import dev.caravan.admin.LedgerQueries.Page;
import dev.caravan.admin.LedgerQueries.Row;
import dev.caravan.admin.LedgerQueries.Totals;
import dev.caravan.auth.Role;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.policy.ledger.LedgerDatabase;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.math.BigDecimal;
import java.sql.SQLException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code GET /admin/spend} (the ledger summed by key, team, model, deployment or UTC day) and
 * {@code GET /admin/requests} (its rows, newest first, a page at a time), for role viewer and above. A team-admin or
 * viewer sees its own team's rows only: naming another team, or a key with no rows in its team, is 404 (the same
 * answer whether the other team or key exists or not, so ids do not leak). With the ledger off both answer 503.
 */
public final class SpendEndpoints {

    private static final Logger LOG = LoggerFactory.getLogger(SpendEndpoints.class);

    static final int DEFAULT_LIMIT = 50;
    static final int MAX_LIMIT = 1000;

    private static final Set<String> SPEND_PARAMS = Set.of("group_by", "from", "to", "team", "key", "model");
    private static final Set<String> REQUESTS_PARAMS = Set.of("from", "to", "team", "key", "model", "status",
            "limit", "after");

    private final LedgerQueries queries; // null with the ledger off

    private SpendEndpoints(LedgerQueries queries) {
        this.queries = queries;
    }

    /** Registers both endpoints on {@code api}; {@code database} is null when the ledger is off. */
    public static void register(AdminApi api, LedgerDatabase database) {
        SpendEndpoints endpoints = new SpendEndpoints(database == null ? null : new LedgerQueries(database.dataSource()));
        api.add("GET", "/admin/spend", endpoints::spend);
        api.add("GET", "/admin/requests", endpoints::requests);
    }

    AdminReply spend(AdminRequest request) {
        AdminScope.require(request, Role.VIEWER);
        known(request, SPEND_PARAMS);
        String groupBy = request.param("group_by");
        GroupBy by = groupBy == null ? GroupBy.KEY : GroupBy.parse(groupBy);
        if (by == null) {
            throw GatewayException.badRequest("invalid_value", "group_by", "group_by must be one of key, team, "
                    + "model, deployment, ingress or day, not '" + GatewayException.quote(groupBy) + "'.");
        }
        Filter filter = scoped(request, filter(request, null, null));
        List<Group> groups = read(() -> queries.spend(by, filter));

        ObjectNode body = Json.object().put("object", "spend").put("group_by", by.text);
        body.put("from", time(filter.fromMillis()));
        body.put("to", time(filter.toMillis()));
        ArrayNode data = body.putArray("data");
        Totals total = Totals.NONE;
        for (Group g : groups) {
            ObjectNode entry = data.addObject().put(by.text, g.value());
            sums(entry, g.totals());
            total = total.plus(g.totals());
        }
        sums(body.putObject("total"), total);
        return AdminReply.ok(body);
    }

    AdminReply requests(AdminRequest request) {
        AdminScope.require(request, Role.VIEWER);
        known(request, REQUESTS_PARAMS);
        int limit = limit(request.param("limit"));
        Cursor after = cursor(request.param("after"));
        int[] status = status(request.param("status"));
        Filter filter = scoped(request, filter(request, status == null ? null : status[0],
                status == null ? null : status[1]));
        Page page = read(() -> queries.requests(filter, after, limit));

        ObjectNode body = Json.object().put("object", "list");
        ArrayNode data = body.putArray("data");
        for (Row r : page.rows()) {
            ObjectNode row = data.addObject().put("id", r.requestId()).put("time", time(r.tsMillis()))
                    .put("key", r.key()).put("team", r.team()).put("model", r.model())
                    .put("deployment", r.deployment()).put("operation", r.operation()).put("status", r.status())
                    .put("outcome", r.outcome()).put("error_code", r.errorCode());
            row.putObject("usage").put("prompt_tokens", r.promptTokens())
                    .put("completion_tokens", r.completionTokens()).put("cached_tokens", r.cachedTokens())
                    .put("estimated", r.usageEstimated());
            usd(row, BigDecimal.valueOf(r.costNanos()));
            row.put("latency_ms", r.latencyMs()).put("stream", r.stream());
        }
        body.put("has_more", page.next() != null);
        body.put("next_after", page.next() == null ? null : page.next().encode());
        return AdminReply.ok(body);
    }

    /** 400 naming the first query parameter this endpoint does not take (a typo would otherwise widen the answer). */
    private static void known(AdminRequest request, Set<String> known) {
        for (String name : new TreeSet<>(request.query().keySet())) {
            if (!known.contains(name)) {
                throw GatewayException.badRequest("unknown_parameter", name, "Unknown query parameter '"
                        + GatewayException.quote(name) + "'; " + request.path() + " takes "
                        + String.join(", ", new TreeSet<>(known)) + ".");
            }
        }
    }

    private static Filter filter(AdminRequest request, Integer statusLow, Integer statusHigh) {
        Long from = millis("from", request.param("from"));
        Long to = millis("to", request.param("to"));
        if (from != null && to != null && from >= to) {
            throw GatewayException.badRequest("invalid_value", "to", "to must be later than from (from is "
                    + "included, to is not).");
        }
        return new Filter(from, to, request.param("team"), request.param("key"), request.param("model"),
                statusLow, statusHigh);
    }

    /**
     * A team-bound caller's filter, held to its team. A key named is checked against the ledger's own team column:
     * no row of it in the caller's team is 404, whether the key is another team's or no key at all.
     */
    private Filter scoped(AdminRequest request, Filter asked) {
        String own = AdminScope.team(request);
        if (own == null) {
            return asked;
        }
        if (asked.team() != null && !asked.team().equals(own)) {
            throw notFound("team", "No team '" + GatewayException.quote(asked.team()) + "' exists.");
        }
        if (asked.key() != null && !read(() -> queries.keyHasRowsIn(asked.key(), own))) {
            throw notFound("key", "No key '" + GatewayException.quote(asked.key()) + "' has requests in team '"
                    + own + "'.");
        }
        return asked.withTeam(own);
    }

    /**
     * A time as an ISO-8601 instant ({@code 2026-12-01T00:00:00Z}, or with an offset), a date (its start, UTC) or
     * epoch milliseconds; null when absent.
     */
    static Long millis(String param, String text) {
        if (text == null) {
            return null;
        }
        try {
            if (text.chars().allMatch(Character::isDigit)) {
                return Long.parseLong(text);
            }
            if (text.length() == 10) {
                return LocalDate.parse(text).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
            }
            return OffsetDateTime.parse(text).toInstant().toEpochMilli();
        } catch (DateTimeParseException | ArithmeticException | NumberFormatException e) {
            throw GatewayException.badRequest("invalid_value", param, param + " must be an ISO-8601 time "
                    + "(2026-12-01T00:00:00Z), a date (2026-12-01, its start in UTC) or epoch milliseconds, not '"
                    + GatewayException.quote(text) + "'.");
        }
    }

    private static int limit(String text) {
        if (text == null) {
            return DEFAULT_LIMIT;
        }
        try {
            int limit = Integer.parseInt(text);
            if (limit >= 1 && limit <= MAX_LIMIT) {
                return limit;
            }
        } catch (NumberFormatException e) {
            // the same answer as a number out of range
        }
        throw GatewayException.badRequest("invalid_value", "limit", "limit must be a whole number from 1 to "
                + MAX_LIMIT + ", not '" + GatewayException.quote(text) + "'.");
    }

    private static Cursor cursor(String text) {
        if (text == null) {
            return null;
        }
        try {
            return Cursor.decode(text);
        } catch (IllegalArgumentException e) {
            throw GatewayException.badRequest("invalid_value", "after", "after must be the next_after of an "
                    + "earlier page, not '" + GatewayException.quote(text) + "'.");
        }
    }

    /** {@code 429} is that status alone, {@code 4xx} its class: [low, high), or null when absent. */
    private static int[] status(String text) {
        if (text == null) {
            return null;
        }
        if (text.matches("[1-5][0-9][0-9]")) {
            int s = Integer.parseInt(text);
            return new int[] {s, s + 1};
        }
        if (text.matches("[1-5]xx")) {
            int low = (text.charAt(0) - '0') * 100;
            return new int[] {low, low + 100};
        }
        throw GatewayException.badRequest("invalid_value", "status", "status must be an HTTP status (429) or a "
                + "class of them (4xx), not '" + GatewayException.quote(text) + "'.");
    }

    private static void sums(ObjectNode node, Totals t) {
        node.put("requests", t.requests()).put("prompt_tokens", t.promptTokens())
                .put("completion_tokens", t.completionTokens()).put("cached_tokens", t.cachedTokens());
        usd(node, t.costNanos());
    }

    /**
     * {@code cost_usd} as a JSON number with all nine decimals, written as text: a double would round sums of
     * nano-dollars, and Jackson writes a BigDecimal such as 1E-9 in exponent form.
     */
    private static void usd(ObjectNode node, BigDecimal nanos) {
        node.putRawValue("cost_usd", new RawValue(nanos.movePointLeft(9).setScale(9).toPlainString()));
    }

    private static String time(Long millis) {
        return millis == null ? null : Instant.ofEpochMilli(millis).toString();
    }

    private static GatewayException notFound(String param, String message) {
        return new GatewayException(404, "invalid_request_error", "not_found", param, message, Map.of());
    }

    private interface Read<T> {
        T run() throws SQLException;
    }

    /** Runs a query: 503 with the ledger off or its database unreachable (the reason is logged, not sent). */
    private <T> T read(Read<T> query) {
        if (queries == null) {
            throw GatewayException.unavailable("ledger_off", "The spend ledger is off (caravan.ledger.enabled is "
                    + "false): there is no spend and no request to read.");
        }
        try {
            return query.run();
        } catch (SQLException e) {
            LOG.warn("The admin API could not read the spend ledger: {}", e.getMessage());
            throw GatewayException.unavailable("ledger_unavailable", "The spend ledger's database cannot be read "
                    + "right now; retry in a moment.");
        }
    }
}
