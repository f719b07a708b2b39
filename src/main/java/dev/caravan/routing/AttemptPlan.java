package dev.caravan.routing;

import dev.caravan.core.GatewayException;
import dev.caravan.core.PassThrough;
import dev.caravan.auth.Principal;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ModelConfig;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * One request's attempts (exchange property {@code caravan.attempts}): the model and ranked deployments being tried,
 * what is left to try, and what each attempt gave. Its collections grow by one entry an attempt or a fallback model,
 * so they are bounded by the model's retries times its fallbacks, and live only as long as the request.
 */
final class AttemptPlan {
    final boolean streaming;
    final long deadlineNanos;
    final Principal principal;
    final PassThrough passThrough; // the fallbacks' deployments are filtered by it as the model's were
    final Deque<String> fallbacks = new ArrayDeque<>();
    final Set<String> modelsTried = new HashSet<>();
    final Map<String, Integer> triesByDeployment = new HashMap<>();
    final List<String> log = new ArrayList<>();
    ModelConfig model;
    List<DeploymentConfig> ranked;
    int cursor;
    int attemptsLeft;
    String fallbackUsed;
    DeploymentRegistry.State current;
    long attemptStart;
    long backoffMillis;
    GatewayException lastError;
    boolean deadlineHit;
    boolean succeeded;

    AttemptPlan(boolean streaming, long deadlineNanos, Principal principal, PassThrough passThrough) {
        this.streaming = streaming;
        this.deadlineNanos = deadlineNanos;
        this.principal = principal;
        this.passThrough = passThrough;
    }

    int attempts() {
        return log.size() + (current != null ? 1 : 0);
    }

    /** Tries {@code model} next, from the first of its {@code ranked} deployments, with its own retry budget. */
    void useModel(ModelConfig model, List<DeploymentConfig> ranked) {
        this.model = model;
        this.ranked = ranked;
        this.cursor = 0;
        this.attemptsLeft = 1 + model.routing().retries();
        this.modelsTried.add(model.name());
    }

    /** Nothing more is tried: neither another deployment nor a fallback model. */
    void stop() {
        attemptsLeft = 0;
        fallbacks.clear();
    }

    /** How an attempt's failure reads in the log and a deployment's last error: "429 rate_limit_exceeded". */
    static String describe(GatewayException e) {
        return e.status() + (e.code() == null ? "" : " " + e.code().toLowerCase(Locale.ROOT));
    }
}
