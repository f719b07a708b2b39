package dev.caravan.policy.ledger;

import dev.caravan.policy.EndFacts;
import dev.caravan.policy.PolicyCall;
import dev.caravan.usage.Usage;

import java.util.concurrent.ThreadLocalRandom;

/** What the writer queues: a request's spend row, or where a budget window began. */
sealed interface LedgerEntry {

    /**
     * One request, as a {@code spend_ledger} row. Strings are cut to their column's width (and NULs, which
     * PostgreSQL refuses, removed) here, so the database has no reason to refuse a batch of them.
     *
     * @param tsMillis when the request ended
     * @param region   the region of the deployment that answered (or was tried last), or null when it names none
     * @param ingress  how the request came in: {@code http}, {@code jms}, {@code amqp} or {@code kafka}
     */
    record SpendRow(String requestId, long tsMillis, String keyId, String team, String model, String deployment,
                    String operation, int status, String outcome, String errorCode, long promptTokens,
                    long completionTokens, long cachedTokens, long costNanos, long latencyMs, boolean usageEstimated,
                    boolean stream, String region, String ingress) implements LedgerEntry {

        public SpendRow {
            // the gateway always names its requests; a row without one still gets a unique key rather than failing
            requestId = requestId != null ? fit(requestId, 64)
                    : "unnamed_" + Long.toHexString(ThreadLocalRandom.current().nextLong());
            keyId = fit(keyId, 128);
            team = fit(team, 128);
            model = fit(model, 256);
            deployment = fit(deployment, 256);
            operation = fit(operation, 32);
            outcome = fit(outcome, 32);
            errorCode = fit(errorCode, 128);
            region = fit(region, 64);
            ingress = ingress == null ? "http" : fit(ingress, 16);
        }

        /** The row for a request that ended at {@code nowMillis}. */
        static SpendRow of(PolicyCall call, EndFacts facts, long nowMillis) {
            Usage usage = facts.usage() != null ? facts.usage() : Usage.NONE;
            return new SpendRow(call.requestId(), nowMillis, call.keyId(), call.team(), call.model(),
                    facts.deployment(), call.operation(), facts.status(), facts.outcome(), facts.errorCode(),
                    usage.promptTokens(), usage.completionTokens(), usage.cachedTokens(), facts.costNanos(),
                    facts.durationNanos() / 1_000_000, usage.estimated(), call.streaming(), facts.region(),
                    call.ingress());
        }
    }

    /** A {@code budget_windows} row: this key's or team's window of {@code period} began at {@code startedMillis}. */
    record WindowStart(String scopeKind, String scopeId, String period, long startedMillis) implements LedgerEntry {

        public WindowStart {
            scopeId = fit(scopeId, 128);
            period = fit(period, 16);
        }
    }

    private static String fit(String s, int width) {
        if (s == null) {
            return null;
        }
        if (s.indexOf('\0') >= 0) {
            s = s.replace("\0", "");
        }
        return s.length() <= width ? s : s.substring(0, width);
    }
}
