package dev.caravan.policy.guardrail;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * What the guardrails did, counted and logged: {@code caravan_guardrail_total{guard,entity,action,direction}} for
 * every finding acted on, and one log line per block or alert naming the request, the policy, the guard and the
 * entity, never the text it matched. Labels are bounded by the code and the config: guards are four names,
 * entities the entity types, the deny patterns' numbers, the injection rules' names and the webhook's verdicts.
 */
public final class GuardrailEvents {

    private static final Logger LOG = LoggerFactory.getLogger("dev.caravan.guardrail");
    private static final int MAX_SERIES = 2_000; // far above what the code and a config can name; a guard if not

    private final MeterRegistry registry;
    private final ConcurrentMap<String, Counter> counters = new ConcurrentHashMap<>();

    public GuardrailEvents(MeterRegistry registry) {
        this.registry = registry;
    }

    /**
     * One finding acted on.
     *
     * @param direction {@code input} or {@code output}
     */
    public void record(String requestId, String policy, String guard, String entity, Action action, String direction) {
        counter(guard, entity, action.configName(), direction).increment();
        if (action == Action.BLOCK || action == Action.ALERT) {
            LOG.info("Guardrail {}: request {} {} by policy {}, guard {}, {} in the {}", action == Action.BLOCK
                    ? "block" : "alert", requestId, action == Action.BLOCK ? "refused" : "flagged", policy, guard,
                    entity, direction);
        }
    }

    private Counter counter(String guard, String entity, String action, String direction) {
        String key = guard + '\u0000' + entity + '\u0000' + action + '\u0000' + direction;
        Counter c = counters.get(key);
        if (c != null) {
            return c;
        }
        if (counters.size() >= MAX_SERIES) {
            entity = "other";
            key = guard + '\u0000' + entity + '\u0000' + action + '\u0000' + direction;
        }
        String e = entity;
        return counters.computeIfAbsent(key, k -> Counter.builder("caravan.guardrail")
                .description("guardrail findings acted on, by guard, entity, action and direction")
                .tag("guard", guard).tag("entity", e).tag("action", action).tag("direction", direction)
                .register(registry));
    }
}
