package dev.caravan.routing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.GatewayException;
import dev.caravan.auth.Principal;
import dev.caravan.config.ConfigHolder;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ModelConfig;
import dev.caravan.http.ClientRequest;
import dev.caravan.http.ErrorRenderer;
import dev.caravan.http.ExchangeKeys;
import dev.caravan.http.Ingress;
import dev.caravan.stream.MeteredStream;
import dev.caravan.work.CpuPool;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.camel.Exchange;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The call step's bookkeeping (routes/call.camel.yaml loops over it): which deployment to try next, how long to
 * wait first, what a failure means (try the next deployment, cool down a rate-limited one, fall back to another
 * model, or answer now), the per-attempt timeout within the request's deadline, and what each breaker learns.
 * One {@link Plan} per request lives in exchange property {@code caravan.attempts}.
 */
public final class Attempts {

    private static final Duration DEFAULT_COOL_DOWN = Duration.ofSeconds(1);

    private final ConfigHolder config;
    private final ModelRouter router;
    private final DeploymentRegistry deployments;
    private final MeterRegistry meters;

    public Attempts(ConfigHolder config, ModelRouter router, DeploymentRegistry deployments, MeterRegistry meters) {
        this.config = config;
        this.router = router;
        this.deployments = deployments;
        this.meters = meters;
    }

    /** One request's attempts. */
    static final class Plan {
        final boolean streaming;
        final long deadlineNanos;
        final Principal principal;
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

        Plan(boolean streaming, long deadlineNanos, Principal principal) {
            this.streaming = streaming;
            this.deadlineNanos = deadlineNanos;
            this.principal = principal;
        }

        int attempts() {
            return log.size() + (current != null ? 1 : 0);
        }
    }

    /** Starts the plan with the ranked deployments of the requested model and picks the first attempt. */
    public void begin(Exchange exchange) {
        ModelConfig model = exchange.getProperty(ExchangeKeys.MODEL, ModelConfig.class);
        boolean streaming = exchange.getProperty(ExchangeKeys.STREAMING, false, Boolean.class);
        long start = exchange.getProperty(ExchangeKeys.START_NANOS, System.nanoTime(), Long.class);
        // a stream has no overall deadline: each attempt has its first-byte timeout, and a long stream is fine
        long deadline = streaming ? Long.MAX_VALUE : start + model.routing().deadline().toNanos();
        Plan plan = new Plan(streaming, deadline, exchange.getProperty(ExchangeKeys.PRINCIPAL, Principal.class));
        @SuppressWarnings("unchecked")
        List<DeploymentConfig> ranked = exchange.getProperty(ExchangeKeys.DEPLOYMENTS, List.class);
        useModel(plan, model, ranked);
        plan.fallbacks.addAll(fallbacksFor(exchange, model));
        exchange.setProperty(ExchangeKeys.ATTEMPTS, plan);
        pickNext(exchange, plan);
    }

    /** The wait before the picked attempt: backoff on a deployment tried before, or its rate-limit cool-down. */
    public long backoffMillis(Exchange exchange) {
        return plan(exchange).backoffMillis;
    }

    /** The picked deployment answered: tell its breaker, remember its latency. */
    public void succeeded(Exchange exchange) {
        Plan plan = plan(exchange);
        DeploymentRegistry.State s = plan.current;
        long took = System.nanoTime() - plan.attemptStart;
        s.recordLatency(took);
        MeteredStream relay = exchange.getProperty(ExchangeKeys.RELAY, MeteredStream.class);
        if (relay == null) {
            s.breaker().onSuccess(took, TimeUnit.NANOSECONDS);
            s.leave();
        } else {
            // a stream is judged when it ends: one that dies midway is the deployment's failure too
            relay.onEnd(end -> {
                s.leave();
                if (end.outcome() == MeteredStream.Outcome.UPSTREAM_ERROR || end.outcome() == MeteredStream.Outcome.IDLE_TIMEOUT) {
                    s.recordError(end.error() == null ? end.outcome().name() : end.error().code());
                    s.breaker().onError(took, TimeUnit.NANOSECONDS, end.error());
                } else {
                    s.breaker().onSuccess(took, TimeUnit.NANOSECONDS);
                }
            });
        }
        plan.log.add(s.id() + " ok");
        plan.current = null;
        plan.succeeded = true;
        exchange.removeProperty(ExchangeKeys.DEPLOYMENT_ID);
    }

    /** The picked deployment failed: learn from it, then pick the next attempt or stop. */
    public void failed(Exchange exchange) {
        Plan plan = plan(exchange);
        Throwable caught = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        GatewayException upstream = caught instanceof GatewayException g ? g
                : ErrorRenderer.isTranslationFailure(caught) ? ErrorRenderer.untranslatable(exchange, (RuntimeException) caught)
                : new GatewayException(500, "server_error", "internal_error", "The call failed inside the gateway.");
        Optional<Duration> retryAfter = RetryAfter.parse(upstream.headers().get("Retry-After"),
                plan.model.routing().maxRetryAfter(), Instant.now());
        GatewayException error = withRetryAfter(upstream, retryAfter); // the client is told the capped wait, or none
        DeploymentRegistry.State s = plan.current;
        long took = System.nanoTime() - plan.attemptStart;
        s.leave();
        plan.current = null;
        plan.lastError = error;
        plan.log.add(s.id() + " " + describe(error));
        exchange.removeProperty(ExchangeKeys.DEPLOYMENT_ID);
        exchange.removeProperty(ExchangeKeys.RELAY);

        if (!(caught instanceof GatewayException)) {
            // the gateway's own failure (e.g. a deployment route swapped out by a reload): not the deployment's fault
            s.breaker().releasePermission();
            if (ErrorRenderer.isTranslationFailure(caught)) {
                plan.attemptsLeft = 0; // a translator failed on the client's input: the 400 answers now
                plan.fallbacks.clear();
                return;
            }
        } else if (CpuPool.isBusy(caught)) {
            s.breaker().releasePermission(); // the gateway is busy, not the deployment: answer the 503 now
            plan.attemptsLeft = 0;
            plan.fallbacks.clear();
            return;
        } else if ("context_length_exceeded".equals(error.code())) {
            s.breaker().onSuccess(took, TimeUnit.NANOSECONDS); // the deployment is fine; the request is too long for it
            plan.fallbacks.clear();
            plan.fallbacks.addAll(allowed(plan.principal, plan.model.contextWindowFallbacks()));
            plan.attemptsLeft = 0;
            if (plan.fallbacks.isEmpty()) {
                return; // answers with the 400
            }
        } else if (error.status() == 429) {
            s.breaker().releasePermission(); // rate-limited is not broken
            s.coolDown(retryAfter.orElse(min(DEFAULT_COOL_DOWN, plan.model.routing().maxRetryAfter())));
            s.recordError(describe(error));
        } else if (isDeploymentFault(error)) {
            s.breaker().onError(took, TimeUnit.NANOSECONDS, error);
            s.recordError(describe(error));
        } else {
            s.breaker().onSuccess(took, TimeUnit.NANOSECONDS);
            plan.attemptsLeft = 0; // caused by the request itself: no other deployment would do better
            plan.fallbacks.clear();
            return;
        }
        if (pickNext(exchange, plan)) {
            Counter.builder("caravan.retries").description("Attempts after a failed one")
                    .tags("model", plan.model.name()).register(meters).increment();
        }
    }

    /** After the loop: the answer is there, or the last error (the deadline's, listing the attempts) is thrown. */
    public void finish(Exchange exchange) {
        Plan plan = plan(exchange);
        exchange.setProperty(ExchangeKeys.ATTEMPT_COUNT, plan.log.size());
        if (plan.fallbackUsed != null) {
            exchange.setProperty(ExchangeKeys.FALLBACK, plan.fallbackUsed);
        }
        if (plan.succeeded) {
            return;
        }
        if (plan.deadlineHit) {
            throw GatewayException.gatewayTimeout("The request's deadline passed after " + plan.log.size()
                    + " attempt(s): " + String.join(", ", plan.log) + ".");
        }
        if (plan.lastError != null) {
            GatewayException e = plan.lastError;
            if (plan.log.size() > 1 && e.status() >= 500) {
                throw new GatewayException(e.status(), e.type(), e.code(), e.param(), e.getMessage()
                        + " (" + plan.log.size() + " attempts: " + String.join(", ", plan.log) + ")", e.headers());
            }
            throw e;
        }
        long now = System.nanoTime();
        long coolDown = plan.ranked.stream().mapToLong(d -> deployments.state(d).coolDownUntilNanos() - now)
                .filter(left -> left > 0).min().orElse(0);
        if (coolDown > 0) {
            long seconds = Math.max(1, TimeUnit.NANOSECONDS.toSeconds(coolDown + 999_999_999));
            throw new GatewayException(429, "rate_limit_error", "rate_limit_exceeded", null, "Every deployment of '"
                    + plan.model.name() + "' is rate-limited by its provider; retry after " + seconds + " s.",
                    Map.of("Retry-After", Long.toString(seconds)));
        }
        throw GatewayException.unavailable("no_deployment_available", "No deployment of '" + plan.model.name()
                + "' can take a call now (circuit open, rate-limited or at capacity); retry shortly.");
    }

    /**
     * Picks the next deployment: the ranked list cycled from where the last attempt left it, skipping those that are
     * busy or whose breaker refuses; then fallback models. Sets {@code caravan.deploymentId}; false when none is left.
     */
    private boolean pickNext(Exchange exchange, Plan plan) {
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
            if (!nextModel(exchange, plan)) {
                return false;
            }
        }
    }

    /** The latest a retry may start: the deadline, or for a stream (which has none) one first-byte timeout from now. */
    private static long waitLimit(Plan plan, long now) {
        return plan.streaming ? now + plan.model.timeout().toNanos() : plan.deadlineNanos;
    }

    private boolean hasOtherReady(Plan plan, DeploymentConfig except, long now) {
        for (DeploymentConfig d : plan.ranked) {
            DeploymentRegistry.State s = deployments.state(d);
            if (d != except && !s.coolingDown(now) && !s.refusing(now) && !s.busy()) {
                return true;
            }
        }
        return false;
    }

    private boolean nextModel(Exchange exchange, Plan plan) {
        while (!plan.fallbacks.isEmpty()) {
            String name = plan.fallbacks.poll();
            if (plan.modelsTried.contains(name)) {
                continue;
            }
            ModelConfig next = config.get().model(name).orElse(null);
            if (next == null) {
                continue; // removed by a reload since the request started
            }
            Counter.builder("caravan.fallbacks").description("Requests moved to a fallback model")
                    .tags("from", plan.model.name(), "to", name).register(meters).increment();
            plan.fallbackUsed = name;
            useModel(plan, next, router.rank(next));
            return true;
        }
        return false;
    }

    private static void useModel(Plan plan, ModelConfig model, List<DeploymentConfig> ranked) {
        plan.model = model;
        plan.ranked = ranked;
        plan.cursor = 0;
        plan.attemptsLeft = 1 + model.routing().retries();
        plan.modelsTried.add(model.name());
    }

    /** The model's fallbacks, or the caller's override: header {@code x-caravan-fallbacks} or body {@code caravan.fallbacks}. */
    private List<String> fallbacksFor(Exchange exchange, ModelConfig model) {
        ClientRequest request = Ingress.request(exchange);
        String header = request == null ? null : request.header("x-caravan-fallbacks");
        JsonNode controls = exchange.getProperty(ExchangeKeys.CONTROLS, JsonNode.class);
        JsonNode body = controls == null ? null : controls.get("fallbacks");
        List<String> chosen = model.fallbacks();
        if (header != null) {
            chosen = parseList(header);
        } else if (body != null) {
            chosen = body.isArray() ? texts(body) : parseList(body.asText());
        }
        for (String name : chosen) {
            if (config.get().model(name).isEmpty()) {
                throw GatewayException.badRequest("invalid_fallbacks", "caravan.fallbacks",
                        "The fallback model '" + GatewayException.quote(name) + "' does not exist.");
            }
        }
        return allowed(exchange.getProperty(ExchangeKeys.PRINCIPAL, Principal.class), chosen);
    }

    /** A key only falls back to models it may call. */
    private static List<String> allowed(Principal principal, List<String> models) {
        return models.stream().filter(m -> principal == null || principal.mayUse(m)).toList();
    }

    private static List<String> parseList(String text) {
        String t = text.trim();
        if (t.isEmpty() || t.equalsIgnoreCase("none")) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (String part : t.split(",")) {
            if (!part.isBlank()) {
                out.add(part.trim());
            }
        }
        return out;
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    /** Exponential backoff with full jitter, only when this deployment was already tried for this request. */
    private static long backoff(Plan plan, DeploymentConfig d) {
        int tries = plan.triesByDeployment.getOrDefault(d.id(), 0);
        if (tries == 0) {
            return 0;
        }
        long initial = plan.model.routing().backoffInitial().toMillis();
        long max = plan.model.routing().backoffMax().toMillis();
        long ceiling = Math.min(max, initial << Math.min(tries - 1, 20));
        return ceiling / 2 + ThreadLocalRandom.current().nextLong(ceiling / 2 + 1);
    }

    /** Failures that are the deployment's, not the request's: they count against its breaker and are retried. */
    static boolean isDeploymentFault(GatewayException e) {
        return e.status() >= 500;
    }

    /** {@code e} with its Retry-After replaced by the capped wait, or removed when the upstream's was unreadable. */
    private static GatewayException withRetryAfter(GatewayException e, Optional<Duration> wait) {
        String given = e.headers().get("Retry-After");
        if (given == null) {
            return e;
        }
        Map<String, String> headers = new HashMap<>(e.headers());
        if (wait.isPresent()) {
            headers.put("Retry-After", RetryAfter.header(wait.get()));
        } else {
            headers.remove("Retry-After");
        }
        return new GatewayException(e.status(), e.type(), e.code(), e.param(), e.getMessage(), headers);
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private static String describe(GatewayException e) {
        return e.status() + (e.code() == null ? "" : " " + e.code().toLowerCase(Locale.ROOT));
    }

    private static Plan plan(Exchange exchange) {
        return exchange.getProperty(ExchangeKeys.ATTEMPTS, Plan.class);
    }
}
