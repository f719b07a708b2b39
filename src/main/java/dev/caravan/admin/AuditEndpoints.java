package dev.caravan.admin;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.auth.Role;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.policy.audit.AuditJson;
import dev.caravan.policy.audit.AuditLog;
import dev.caravan.policy.audit.AuditLog.AuditQuery;
import dev.caravan.policy.audit.AuditLog.AuditRow;
import dev.caravan.policy.audit.AuditLog.Verification;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;

/**
 * The audit log over HTTP:
 * <ul>
 *   <li>{@code GET /admin/audit?from=&to=&actor=&action=&limit=&after=}: rows oldest first, a page at a time
 *       ({@code has_more}, {@code next_after}); a viewer or team-admin sees its own team's rows only;</li>
 *   <li>{@code GET /admin/audit/verify}: the chain's check (admin only), 200 whether it is intact or not.</li>
 * </ul>
 * Without a database (the ledger off) both answer 503.
 */
public final class AuditEndpoints {

    static final int DEFAULT_LIMIT = 100;
    static final int MAX_LIMIT = 1000;

    private final AuditLog log;

    public AuditEndpoints(AuditLog log) {
        this.log = log;
    }

    public void register(AdminApi api) {
        api.add("GET", "/admin/audit", this::list);
        api.add("GET", "/admin/audit/verify", this::verify);
    }

    AdminReply list(AdminRequest request) {
        String team = AdminScope.team(request);
        Long from = instant(request, "from");
        Long to = instant(request, "to");
        String actor = request.param("actor");
        String action = request.param("action");
        int limit = (int) number(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT);
        Long after = request.param("after") == null ? null : number(request, "after", 0, 0, Long.MAX_VALUE);
        available();
        // one more than asked tells whether a next page exists, without counting; a page of the most rows a query
        // gives looks once more past its last row instead
        List<AuditRow> rows = log.find(new AuditQuery(from, to, actor, action, team, Math.min(limit + 1, MAX_LIMIT),
                after));
        List<AuditRow> page = rows.size() > limit ? rows.subList(0, limit) : rows;
        boolean more = rows.size() > limit || page.size() == MAX_LIMIT && !log.find(new AuditQuery(from, to, actor,
                action, team, 1, page.get(page.size() - 1).seq())).isEmpty();
        ObjectNode body = Json.object().put("object", "list");
        ArrayNode data = body.putArray("data");
        page.forEach(r -> data.add(AuditJson.row(r)));
        body.put("has_more", more);
        if (page.isEmpty()) {
            body.putNull("next_after");
        } else {
            body.put("next_after", page.get(page.size() - 1).seq());
        }
        return AdminReply.ok(body);
    }

    AdminReply verify(AdminRequest request) {
        AdminScope.require(request, Role.ADMIN);
        available();
        Verification v = log.verify();
        ObjectNode body = Json.object().put("object", "audit.verification").put("ok", v.ok()).put("rows", v.rows());
        if (v.firstBad() == null) {
            body.putNull("first_bad_seq");
        } else {
            body.put("first_bad_seq", v.firstBad());
        }
        body.put("reason", v.reason());
        return AdminReply.ok(body);
    }

    private void available() {
        if (!log.enabled()) {
            throw GatewayException.unavailable("audit_unavailable",
                    "The audit log is kept in the gateway's database, and this gateway has none (the ledger is off: "
                            + "CARAVAN_LEDGER_ENABLED=false).");
        }
    }

    /** An ISO-8601 instant ({@code 2026-01-31T12:00:00Z}) or epoch milliseconds; 400 naming the field otherwise. */
    private static Long instant(AdminRequest request, String name) {
        String text = request.param(name);
        if (text == null) {
            return null;
        }
        if (text.chars().allMatch(Character::isDigit) && text.length() <= 15) {
            return Long.parseLong(text);
        }
        try {
            return Instant.parse(text).toEpochMilli();
        } catch (DateTimeParseException | ArithmeticException e) {
            throw GatewayException.badRequest("invalid_request", name, name + " must be an ISO-8601 instant "
                    + "(2026-01-31T12:00:00Z) or epoch milliseconds, not " + GatewayException.quote(text) + ".");
        }
    }

    private static long number(AdminRequest request, String name, long otherwise, long least, long most) {
        String text = request.param(name);
        if (text == null) {
            return otherwise;
        }
        try {
            long n = Long.parseLong(text);
            if (n >= least && n <= most) {
                return n;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw GatewayException.badRequest("invalid_request", name, name + " must be a whole number from " + least
                + " to " + most + ", not " + GatewayException.quote(text) + ".");
    }
}
