package dev.caravan.routing;

import dev.caravan.config.ConfigHolder;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ModelConfig;
import dev.caravan.core.ExchangeKeys;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.camel.Exchange;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The next deployment that can take a request's attempt: the ranked list cycled from where the last attempt left it,
 * skipping those that are busy, refused by their breaker or cooling down when another is ready; then the plan's
 * fallback models (each one's deployments filtered to the principal's regions, and skipped when none is left). It
 * also sets the wait before the attempt (backoff or cool-down) and its timeout.
 */
final class DeploymentPicker {

    private final ConfigHolder config;
    private final ModelRouter router;
    private final DeploymentRegistry deployments;
    private final MeterRegistry meters;

    DeploymentPicker(ConfigHolder config, ModelRouter router, DeploymentRegistry deployments, MeterRegistry meters) {
        this.config = config;
        this.router = router;
        this.deployments = deployments;
        this.meters = meters;
    }

    /** Picks the next attempt and sets {@code caravan.deploymentId}; false when none is left or the deadline passed. */
    boolean pickNext(Exchange exchange, AttemptPlan plan) {
        while (true) {
            long now = System.nanoTime();
            if (now - plan.deadlineNanos >= 0) {
                plan.deadlineHit = true;
                return false;
            }
            if (plan.attemptsLeft > 0) {
                DeploymentRegistry.State picked = null;
                long wait = 0;
                int n = plan.ranked.size();
                for (int i = 0; i < n && picked == null; i++) {
                    DeploymentConfig d = plan.ranked.get((plan.cursor + i) % n);
                    DeploymentRegistry.State s = deployments.state(d);
                    long coolDown = Math.max(0, s.coolDownUntilNanos() - now);
                    if (coolDown > 0 && plan.log.isEmpty()) {
                        continue; // a new request does not queue behind another's rate limit: finish() says 429
                    }
                    if (coolDown > 0 && now + coolDown - waitLimit(plan, now) >= 0) {
                        continue; // its Retry-After does not fit in what is left of the deadline
                    }
                    if (coolDown > 0 && hasOtherReady(plan, d, now)) {
                        continue; // another deployment can answer at once
                    }
                    if (!s.enter()) {
                        continue; // at its maxInFlight
                    }
                    if (!s.breaker().tryAcquirePermission()) {
                        s.leave();
                        continue;
                    }
                    picked = s;
                    plan.cursor = (plan.cursor + i + 1) % n;
                    wait = Math.max(TimeUnit.NANOSECONDS.toMillis(coolDown), backoff(plan, d));
                }
                if (picked != null) {
                    if (now + TimeUnit.MILLISECONDS.toNanos(wait) - plan.deadlineNanos >= 0) {
                        picked.breaker().releasePermission();
                        picked.leave();
                        plan.deadlineHit = true;
                        return false;
                    }
                    plan.attemptsLeft--;
                    plan.triesByDeployment.merge(picked.id(), 1, Integer::sum);
                    plan.current = picked;
                    plan.backoffMillis = wait;
                    plan.attemptStart = now + TimeUnit.MILLISECONDS.toNanos(wait);
                    Duration remaining = Duration.ofNanos(plan.deadlineNanos - plan.attemptStart);
                    Duration timeout = plan.model.timeout();
                    exchange.setProperty(ExchangeKeys.ATTEMPT_TIMEOUT, remaining.compareTo(timeout) < 0 ? remaining : timeout);
                    exchange.setProperty(ExchangeKeys.DEPLOYMENT, picked.config());
                    exchange.setProperty(ExchangeKeys.DEPLOYMENT_ID, picked.id());
                    return true;
                }
            }
            if (!nextModel(plan)) {
                return false;
            }
        }
    }

    /** The latest a retry may start: the deadline, or for a stream (which has none) one first-byte timeout from now. */
    private static long waitLimit(AttemptPlan plan, long now) {
        return plan.streaming ? now + plan.model.timeout().toNanos() : plan.deadlineNanos;
    }

    private boolean hasOtherReady(AttemptPlan plan, DeploymentConfig except, long now) {
        for (DeploymentConfig d : plan.ranked) {
            DeploymentRegistry.State s = deployments.state(d);
            if (d != except && !s.coolingDown(now) && !s.refusing(now) && !s.busy()) {
                return true;
            }
        }
        return false;
    }

    /** Moves the plan to its next fallback model still configured and not yet tried; false when none is left. */
    private boolean nextModel(AttemptPlan plan) {
        while (!plan.fallbacks.isEmpty()) {
            String name = plan.fallbacks.poll();
            if (plan.modelsTried.contains(name)) {
                continue;
            }
            ModelConfig next = config.get().model(name).orElse(null);
            if (next == null) {
                continue; // removed by a reload since the request started
            }
            List<DeploymentConfig> ranked = router.rank(next, plan.principal, plan.passThrough);
            if (ranked.isEmpty()) {
                continue; // none of its deployments is in the principal's regions (or serves a pass-through): skipped
            }
            Counter.builder("caravan.fallbacks").description("Requests moved to a fallback model")
                    .tags("from", plan.model.name(), "to", name).register(meters).increment();
            plan.fallbackUsed = name;
            plan.useModel(next, ranked);
            return true;
        }
        return false;
    }

    /** Exponential backoff with full jitter, only when this deployment was already tried for this request. */
    private static long backoff(AttemptPlan plan, DeploymentConfig d) {
        int tries = plan.triesByDeployment.getOrDefault(d.id(), 0);
        if (tries == 0) {
            return 0;
        }
        long initial = plan.model.routing().backoffInitial().toMillis();
        long max = plan.model.routing().backoffMax().toMillis();
        long ceiling = Math.min(max, initial << Math.min(tries - 1, 20));
        return ceiling / 2 + ThreadLocalRandom.current().nextLong(ceiling / 2 + 1);
    }
}
