package dev.caravan.policy.audit;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One thing the audit log records: an admin action, a use of a revoked key, a config reload, a refusal by a budget.
 * Never holds a secret: a key's secret and hash are removed from {@code before} and {@code after} by whoever makes
 * the event (the audit log removes any field named {@code secret}, {@code key}, {@code sha256} or {@code apiKey}
 * again, as a second guard).
 *
 * @param tsMillis  when it happened
 * @param actor     who did it: a key id, {@code master}, an OIDC subject, or {@code gateway} (reloads, refusals)
 * @param role      the actor's role, or null
 * @param action    what, as {@code <noun>.<verb>}: {@code key.create}, {@code key.update}, {@code key.rotate},
 *                  {@code key.revoke}, {@code team.create}, {@code team.update}, {@code team.delete},
 *                  {@code config.reload}, {@code key.revoked_use}, {@code budget.refused}
 * @param target    what it was done to: {@code key:<id>}, {@code team:<name>}, {@code config:gateway.yaml}
 * @param team      the team the target belongs to (a viewer or team-admin sees its own team's rows), or null
 * @param outcome   {@code success} or {@code failure} (a refused reload; a refused request)
 * @param before    the target before (null when created or not applicable)
 * @param after     the target after (null when deleted or not applicable); for a reload: the changed sections
 * @param requestId the gateway's request id, or null
 * @param source    the caller's address, or null
 */
public record AuditEvent(long tsMillis, String actor, String role, String action, String target, String team,
                         String outcome,
                         JsonNode before, JsonNode after, String requestId, String source) {
}
