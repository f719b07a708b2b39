package dev.caravan.policy.audit;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.GatewayConfig;
import dev.caravan.config.KeyConfig;
import dev.caravan.core.Json;
import dev.caravan.policy.EndFacts;
import dev.caravan.policy.Policy;
import dev.caravan.policy.PolicyCall;
import dev.caravan.policy.budget.BudgetPolicy;

import java.util.HashMap;
import java.util.Map;

/**
 * The {@code audit} policy: its end-hook records every request a budget refused ({@code budget.refused}, actor the
 * key id, target the budget that refused: {@code key:<id>} or {@code team:<name>}). It queues the event and returns
 * (the writer appends it off the request path); it has no other hook. Made again for every config.
 */
public final class AuditPolicy implements Policy {

    static final String BUDGET_EXCEEDED = "budget_exceeded";

    private final AuditLog log;
    private final Map<String, String> rolesById = new HashMap<>();

    public AuditPolicy(GatewayConfig config, AuditLog log) {
        this.log = log;
        for (KeyConfig k : config.keysBySha256().values()) {
            rolesById.put(k.id(), k.role());
        }
    }

    @Override
    public void end(PolicyCall call, EndFacts facts) {
        if (!BUDGET_EXCEEDED.equals(facts.errorCode())) {
            return;
        }
        Object refusedBy = call.attribute(BudgetPolicy.REFUSED_BY);
        String target = refusedBy != null ? refusedBy.toString() : call.keyId() != null ? "key:" + call.keyId() : null;
        ObjectNode after = Json.object().put("model", call.model()).put("code", facts.errorCode())
                .put("ingress", call.ingress());
        log.record(new AuditEvent(System.currentTimeMillis(), call.keyId(), rolesById.get(call.keyId()),
                "budget.refused", target, call.team(), "failure", null, after, call.requestId(), null));
    }
}
