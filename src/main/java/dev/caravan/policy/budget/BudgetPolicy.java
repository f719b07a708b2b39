package dev.caravan.policy.budget;

import dev.caravan.config.Budget;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.GatewayConfig;
import dev.caravan.config.KeyConfig;
import dev.caravan.config.ModelConfig;
import dev.caravan.config.TeamConfig;
import dev.caravan.core.GatewayException;
import dev.caravan.policy.Decision;
import dev.caravan.policy.EndFacts;
import dev.caravan.policy.Policy;
import dev.caravan.policy.PolicyCall;
import dev.caravan.policy.counters.Counters;
import dev.caravan.policy.counters.Counters.BudgetCharge;
import dev.caravan.policy.counters.CountersDown;
import dev.caravan.policy.counters.Scopes;
import dev.caravan.policy.counters.TokenEstimate;
import dev.caravan.usage.Pricing;
import dev.caravan.usage.Usage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;

/**
 * The {@code budget} policy: USD per period per key and per team. Before the call it reserves the request's worst
 * case (estimated prompt plus its most completion tokens, at the dearest price it may be served at); a request is
 * admitted while its budgets have room, so concurrency overshoots a budget by at most one request's worst case.
 * At the end the reservation is settled to the real cost (released in full when nothing was produced). The
 * counters outlive this instance (one per config).
 */
public final class BudgetPolicy implements Policy {

    private static final Logger LOG = LoggerFactory.getLogger(BudgetPolicy.class);
    private static final String RESERVED = "budget.reserved";
    /** The call attribute a refusal leaves: which budget refused, {@code key:<id>} or {@code team:<name>}. */
    public static final String REFUSED_BY = "budget.refusedBy";

    /** Where each budget window began, for the restart rebuild (the ledger); never blocks. */
    @FunctionalInterface
    public interface WindowLog {
        void opened(String scopeKind, String scopeId, dev.caravan.config.BudgetPeriod period, long startMillis);
    }

    private final GatewayConfig config;
    private final Counters counters;
    private final BudgetMeters meters;
    private final WindowLog windows;
    private final Map<String, KeyConfig> keysById = new HashMap<>();

    public BudgetPolicy(GatewayConfig config, Counters counters, BudgetMeters meters, WindowLog windows) {
        this.config = config;
        this.counters = counters;
        this.meters = meters;
        this.windows = windows;
        config.keysBySha256().values().forEach(k -> keysById.put(k.id(), k));
    }

    /** The budget counter's name for a key's or team's budget (its period is part of it). */
    public static String scope(String kind, String id, Budget budget) {
        return Scopes.of("budget", kind, id) + ":" + budget.period().text();
    }

    @Override
    public CompletionStage<Decision> before(PolicyCall call) {
        List<BudgetCharge> charges = charges(call);
        if (charges.isEmpty()) {
            return CONTINUE;
        }
        long worst = worstCase(call);
        List<BudgetCharge> priced = charges.stream()
                .map(c -> new BudgetCharge(c.scope(), c.limit(), c.period(), c.alertAt(), worst)).toList();
        long now = System.currentTimeMillis();
        return counters.reserve(now, call.requestId(), priced).handle((result, error) -> {
            if (error != null) {
                return Decision.refuse(CountersDown.answer(error));
            }
            for (int i = 0; i < priced.size(); i++) {
                if (result.opened()[i]) {
                    String scope = priced.get(i).scope();
                    windows.opened(Scopes.kind(scope), Scopes.id(scope), priced.get(i).period(), result.windowStart()[i]);
                }
            }
            for (int i = 0; i < priced.size(); i++) {
                if (priced.get(i).scope().startsWith("budget:team:")) {
                    meters.teamSpent(Scopes.id(priced.get(i).scope()), result.spent()[i]);
                }
            }
            if (!result.granted()) {
                int i = result.refused();
                BudgetCharge spent = priced.get(i);
                meters.refused(Scopes.kind(spent.scope()));
                call.attribute(REFUSED_BY, Scopes.kind(spent.scope()) + ":" + Scopes.id(spent.scope()));
                return Decision.refuse(exceeded(spent, result.spent()[i], result.windowEnd()[i], now));
            }
            call.attribute(RESERVED, priced);
            return Decision.CONTINUE;
        });
    }

    @Override
    public void end(PolicyCall call, EndFacts facts) {
        @SuppressWarnings("unchecked")
        List<BudgetCharge> reserved = (List<BudgetCharge>) call.attribute(RESERVED);
        if (reserved == null) {
            return;
        }
        long cost = facts.costNanos();
        counters.settle(System.currentTimeMillis(), call.requestId(), reserved, cost).whenComplete((alerts, error) -> {
            if (error != null) {
                LOG.warn("Could not settle the budget of request {}: {}", call.requestId(), error.toString());
                return;
            }
            for (int i = 0; i < reserved.size(); i++) {
                BudgetCharge c = reserved.get(i);
                String kind = Scopes.kind(c.scope());
                meters.charged(kind, Scopes.id(c.scope()), cost);
                if (alerts[i]) {
                    meters.alerted(kind);
                    LOG.warn("Budget alert: {} '{}' has spent ${} or more of its ${} budget in this {} window",
                            kind, Scopes.id(c.scope()), usd(c.alertAt()), usd(c.limit()), c.period().text());
                }
            }
        });
    }

    private List<BudgetCharge> charges(PolicyCall call) {
        List<BudgetCharge> charges = new ArrayList<>(2);
        KeyConfig key = call.keyId() == null ? null : keysById.get(call.keyId());
        if (key != null && key.budget() != null) {
            charges.add(charge(Scopes.KEY, key.id(), key.budget()));
        }
        TeamConfig team = config.team(call.team()).orElse(null);
        if (team != null && team.budget() != null) {
            charges.add(charge(Scopes.TEAM, team.name(), team.budget()));
        }
        return charges;
    }

    private static BudgetCharge charge(String kind, String id, Budget budget) {
        return new BudgetCharge(scope(kind, id, budget), budget.limitNanos(), budget.period(), budget.alertAtNanos(), 0);
    }

    /**
     * The most this request can cost: its estimated prompt and its most completion tokens at the dearest deployment
     * it may reach (its own, and its fallback models').
     */
    private long worstCase(PolicyCall call) {
        TokenEstimate estimate = TokenEstimate.of(call, config.cost().defaultMaxTokens());
        Usage worst = new Usage(estimate.promptTokens(), estimate.completionTokens(), estimate.total(), false);
        long most = 0;
        for (DeploymentConfig d : reachable(call)) {
            most = Math.max(most, Pricing.costNanos(worst, d.price()));
        }
        return most;
    }

    private List<DeploymentConfig> reachable(PolicyCall call) {
        ModelConfig model = call.modelConfig();
        if (model == null || model.fallbacks().isEmpty() && model.contextWindowFallbacks().isEmpty()) {
            return call.deployments();
        }
        List<DeploymentConfig> all = new ArrayList<>(call.deployments());
        for (String name : model.fallbacks()) {
            config.model(name).ifPresent(m -> all.addAll(m.deployments()));
        }
        for (String name : model.contextWindowFallbacks()) {
            config.model(name).ifPresent(m -> all.addAll(m.deployments()));
        }
        return all;
    }

    private static GatewayException exceeded(BudgetCharge budget, long spent, long windowEnd, long now) {
        String kind = Scopes.kind(budget.scope());
        String who = Scopes.KEY.equals(kind) ? "API key '" + Scopes.id(budget.scope()) + "'" : "team '" + Scopes.id(budget.scope()) + "'";
        long seconds = Counters.secondsUntil(windowEnd, now);
        return new GatewayException(429, "insufficient_quota", "budget_exceeded", null,
                "Budget exceeded for " + who + ": $" + usd(spent) + " of its $" + usd(budget.limit()) + " "
                        + budget.period().text() + " budget is spent (or reserved by requests in flight); it resets at "
                        + Instant.ofEpochMilli(windowEnd) + ".", Map.of("Retry-After", Long.toString(seconds)));
    }

    /** Nano-dollars as a price reads: at least two decimals ({@code 0.20}), more only when they are not zero. */
    private static String usd(long nanos) {
        java.math.BigDecimal usd = java.math.BigDecimal.valueOf(nanos, 9).stripTrailingZeros();
        return usd.setScale(Math.max(2, usd.scale())).toPlainString();
    }
}
