package dev.caravan.policy.audit;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;
import dev.caravan.policy.audit.AuditLog.AuditRow;

import java.time.Instant;

/** One row as JSON, the same for {@code GET /admin/audit} and the JSON-lines sink. */
public final class AuditJson {

    private AuditJson() {
    }

    public static ObjectNode row(AuditRow row) {
        AuditEvent e = row.event();
        ObjectNode out = Json.object();
        out.put("seq", row.seq());
        out.put("time", Instant.ofEpochMilli(e.tsMillis()).toString());
        out.put("actor", e.actor());
        out.put("role", e.role());
        out.put("action", e.action());
        out.put("target", e.target());
        out.put("team", e.team());
        out.put("outcome", e.outcome());
        out.set("before", e.before());
        out.set("after", e.after());
        out.put("request_id", e.requestId());
        out.put("source", e.source());
        out.put("prev_hash", row.prevHash());
        out.put("hash", row.hash());
        return out;
    }
}
