package dev.caravan.policy.budget;

import dev.caravan.config.Budget;
import dev.caravan.policy.counters.Scopes;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Budget metrics: {@code caravan_budget_spend_usd{team}} (the team's spend in its current window, as this replica
 * last saw it), {@code caravan_budget_alerts_total{scope}} and {@code caravan_budget_refused_total{scope}}. Teams
 * are bounded labels (config names them); keys never label these.
 */
public final class BudgetMeters {

    private static final int MAX_TEAMS = 10_000; // teams come from config; the bound guards the label set anyway

    private final MeterRegistry registry;
    private final Map<String, AtomicLong> teamSpend = new ConcurrentHashMap<>();
    private final Map<String, Counter> alerts = new ConcurrentHashMap<>();
    private final Map<String, Counter> refused = new ConcurrentHashMap<>();

    public BudgetMeters(MeterRegistry registry) {
        this.registry = registry;
    }

    /** The team's spend in its window after a charge: a gauge, created the first time the team is charged or seeded. */
    public void teamSpent(String team, long spentNanos) {
        AtomicLong spend = teamSpend.get(team);
        if (spend == null) {
            if (teamSpend.size() >= MAX_TEAMS) {
                return;
            }
            spend = teamSpend.computeIfAbsent(team, t -> {
                AtomicLong v = new AtomicLong();
                Gauge.builder("caravan.budget.spend.usd", v, a -> Budget.usd(a.get()))
                        .description("A team's spend in its current budget window, USD").tag("team", t).register(registry);
                return v;
            });
        }
        spend.set(spentNanos);
    }

    void charged(String kind, String id, long costNanos) {
        if (Scopes.TEAM.equals(kind)) {
            AtomicLong spend = teamSpend.get(id);
            if (spend != null) {
                spend.addAndGet(costNanos);
            }
        }
    }

    void alerted(String kind) {
        alerts.computeIfAbsent(kind, k -> Counter.builder("caravan.budget.alerts")
                .description("Budgets whose spend crossed their alertAt, once per window").tag("scope", k).register(registry)).increment();
    }

    void refused(String kind) {
        refused.computeIfAbsent(kind, k -> Counter.builder("caravan.budget.refused")
                .description("Requests refused because a budget was spent").tag("scope", k).register(registry)).increment();
    }
}
