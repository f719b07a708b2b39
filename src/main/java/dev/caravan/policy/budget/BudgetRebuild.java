package dev.caravan.policy.budget;

import dev.caravan.config.Budget;
import dev.caravan.config.BudgetPeriod;
import dev.caravan.config.GatewayConfig;
import dev.caravan.config.KeyConfig;
import dev.caravan.config.TeamConfig;
import dev.caravan.policy.counters.Counters;
import dev.caravan.policy.counters.Scopes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * On start (and for budgets a reload adds), each key's and team's current budget window is rebuilt from the
 * ledger into the counters, so a restart loses no spend and resets no budget early. A shared store (Redis) that
 * still holds a window keeps it: seeding only fills a window the store does not have. Runs off the request path.
 */
public final class BudgetRebuild {

    private static final Logger LOG = LoggerFactory.getLogger(BudgetRebuild.class);

    /** Where a scope's current window began and what was spent in it since, from the ledger. */
    @FunctionalInterface
    public interface SpendHistory {
        Optional<long[]> currentWindow(String scopeKind, String scopeId, BudgetPeriod period, long nowMillis);
    }

    private BudgetRebuild() {
    }

    /** Seeds every budget of {@code config}; waits (bounded) so the first request sees the rebuilt spend. */
    public static void seed(GatewayConfig config, Counters counters, SpendHistory history, BudgetMeters meters) {
        long now = System.currentTimeMillis();
        int seeded = 0;
        for (KeyConfig key : config.keysBySha256().values()) {
            if (key.budget() != null) {
                seeded += seed(Scopes.KEY, key.id(), key.budget(), now, counters, history, meters);
            }
        }
        for (TeamConfig team : config.teams().values()) {
            if (team.budget() != null) {
                seeded += seed(Scopes.TEAM, team.name(), team.budget(), now, counters, history, meters);
            }
        }
        if (seeded > 0) {
            LOG.info("Rebuilt the current budget window of {} key(s) and team(s) from the ledger", seeded);
        }
    }

    private static int seed(String kind, String id, Budget budget, long now, Counters counters, SpendHistory history,
                            BudgetMeters meters) {
        Optional<long[]> window;
        try {
            window = history.currentWindow(kind, id, budget.period(), now);
        } catch (RuntimeException e) {
            LOG.warn("Cannot read the ledger to rebuild the budget of {} '{}': {}", kind, id, e.toString());
            return 0;
        }
        if (window.isEmpty()) {
            return 0;
        }
        long start = window.get()[0];
        long spent = window.get()[1];
        try {
            counters.seed(BudgetPolicy.scope(kind, id, budget), budget.period(), start, spent)
                    .toCompletableFuture().get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.warn("Cannot seed the budget of {} '{}': {}", kind, id, e.toString());
            return 0;
        }
        if (Scopes.TEAM.equals(kind)) {
            meters.teamSpent(id, spent);
        }
        return 1;
    }
}
