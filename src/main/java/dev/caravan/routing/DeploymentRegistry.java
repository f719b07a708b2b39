package dev.caravan.routing;

import dev.caravan.config.BreakerSettings;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.GatewayConfig;
import dev.caravan.config.ModelConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * The live state of every configured deployment, by id: its Resilience4j circuit breaker, calls in flight, a moving
 * average of latency, a rate-limit cool-down and its last error. It lives outside the routes, so reloading a route
 * file or the config keeps what Caravan learned (a deployment that is down stays known as down). Bounded by config.
 */
public final class DeploymentRegistry {

    private static final Logger LOG = LoggerFactory.getLogger(DeploymentRegistry.class);
    // whatever the config says, a cool-down ends within a day and its arithmetic never overflows
    private static final Duration MAX_COOL_DOWN = Duration.ofDays(1);
    private static final double EWMA_WEIGHT = 0.2; // the last ~5 calls dominate: quick to see a slowdown, not jumpy

    private final Map<String, State> states = new ConcurrentHashMap<>();
    private final MeterRegistry meters;

    public DeploymentRegistry(MeterRegistry meters) {
        this.meters = meters;
    }

    /** One deployment's live state. */
    public static final class State {
        private final String id;
        private volatile DeploymentConfig config;
        private final CircuitBreaker breaker;
        private final BreakerSettings breakerSettings;
        private final AtomicInteger inFlight = new AtomicInteger();
        private volatile double latencyMillis = -1;
        private volatile long coolDownUntilNanos;
        private volatile long openedAtNanos;
        private volatile String lastError;
        private volatile long lastErrorAtMillis;

        State(DeploymentConfig config) {
            this.id = config.id();
            this.config = config;
            this.breakerSettings = config.breaker();
            BreakerSettings b = config.breaker();
            this.breaker = CircuitBreaker.of(id, CircuitBreakerConfig.custom()
                    .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                    .slidingWindowSize(b.window())
                    .minimumNumberOfCalls(b.minimumCalls())
                    .failureRateThreshold(b.failureRateThreshold())
                    .slowCallRateThreshold(b.slowCallRateThreshold())
                    .slowCallDurationThreshold(b.slowCallDuration())
                    .waitDurationInOpenState(b.openDuration())
                    .permittedNumberOfCallsInHalfOpenState(b.halfOpenCalls())
                    .automaticTransitionFromOpenToHalfOpenEnabled(false) // the next request after the wait is the probe
                    .build());
            breaker.getEventPublisher().onStateTransition(e -> {
                if (e.getStateTransition().getToState() == CircuitBreaker.State.OPEN) {
                    openedAtNanos = System.nanoTime();
                }
                LOG.info("Deployment '{}' circuit breaker {} -> {}{}", id, e.getStateTransition().getFromState(),
                        e.getStateTransition().getToState(), lastError == null ? "" : " (last error: " + lastError + ")");
            });
        }

        public String id() {
            return id;
        }

        public DeploymentConfig config() {
            return config;
        }

        public CircuitBreaker breaker() {
            return breaker;
        }

        public int inFlight() {
            return inFlight.get();
        }

        public double latencyMillis() {
            return latencyMillis;
        }

        public String lastError() {
            return lastError;
        }

        public long lastErrorAtMillis() {
            return lastErrorAtMillis;
        }

        public boolean busy() {
            int cap = config.maxInFlight();
            return cap > 0 && inFlight.get() >= cap;
        }

        public boolean coolingDown(long now) {
            return now - coolDownUntilNanos < 0;
        }

        public long coolDownUntilNanos() {
            return coolDownUntilNanos;
        }

        /** Open, and not yet due for its half-open probe: asking would only be refused. */
        public boolean refusing(long now) {
            return breaker.getState() == CircuitBreaker.State.OPEN
                    && now - openedAtNanos < breakerSettings.openDuration().toNanos();
        }

        /** Takes a slot for one call; false when at the cap. */
        boolean enter() {
            while (true) {
                int n = inFlight.get();
                int cap = config.maxInFlight();
                if (cap > 0 && n >= cap) {
                    return false;
                }
                if (inFlight.compareAndSet(n, n + 1)) {
                    return true;
                }
            }
        }

        void leave() {
            inFlight.decrementAndGet();
        }

        void recordLatency(long nanos) {
            double ms = nanos / 1e6;
            double prev = latencyMillis;
            latencyMillis = prev < 0 ? ms : prev + EWMA_WEIGHT * (ms - prev);
        }

        void recordError(String error) {
            lastError = error;
            lastErrorAtMillis = System.currentTimeMillis();
        }

        void coolDown(Duration d) {
            coolDownUntilNanos = System.nanoTime() + nanosWithin(d, MAX_COOL_DOWN);
        }

        /** A reload that lowers the cap shortens a cool-down begun under the old one. */
        void capCoolDown(Duration cap) {
            long latest = System.nanoTime() + nanosWithin(cap, MAX_COOL_DOWN);
            if (coolDownUntilNanos - latest > 0) {
                coolDownUntilNanos = latest;
            }
        }
    }

    /** Brings the states in line with a new config: new ids get a state, known ids keep theirs, removed ids go. */
    public void apply(GatewayConfig config) {
        Map<String, DeploymentConfig> wanted = config.allDeployments().stream()
                .collect(Collectors.toMap(DeploymentConfig::id, d -> d, (a, b) -> a));
        wanted.forEach((id, d) -> {
            State existing = states.get(id);
            if (existing == null || !existing.breakerSettings.equals(d.breaker())) {
                if (existing != null) {
                    LOG.info("Deployment '{}': breaker settings changed, its breaker starts afresh", id);
                }
                State fresh = new State(d);
                states.put(id, fresh);
                if (existing == null) {
                    Gauge.builder("caravan.deployment.state", () -> stateCode(states.get(id)))
                            .description("Circuit breaker per deployment: 0 closed, 1 open, 2 half-open, -1 removed")
                            .tag("deployment", id).register(meters);
                }
            } else {
                existing.config = d; // weight, price, cap may change without touching the breaker
            }
        });
        Map<String, Duration> retryAfterCaps = new java.util.HashMap<>();
        for (ModelConfig m : config.models().values()) {
            for (DeploymentConfig d : m.deployments()) {
                retryAfterCaps.merge(d.id(), m.routing().maxRetryAfter(), (a, b) -> a.compareTo(b) >= 0 ? a : b);
            }
        }
        retryAfterCaps.forEach((id, cap) -> {
            State s = states.get(id);
            if (s != null) {
                s.capCoolDown(cap);
            }
        });
        Set<String> removed = states.keySet().stream().filter(id -> !wanted.containsKey(id)).collect(Collectors.toSet());
        for (String id : removed) {
            states.remove(id);
            meters.find("caravan.deployment.state").tag("deployment", id).meters().forEach(meters::remove);
        }
    }

    private static long nanosWithin(Duration d, Duration max) {
        if (d.isNegative()) {
            return 0;
        }
        return (d.compareTo(max) > 0 ? max : d).toNanos();
    }

    private static double stateCode(State s) {
        if (s == null) {
            return -1;
        }
        return switch (s.breaker.getState()) {
            case OPEN, FORCED_OPEN -> 1;
            case HALF_OPEN -> 2;
            default -> 0;
        };
    }

    /**
     * The live state of {@code deployment}. A request ranked just before a reload removed the deployment gets a
     * throw-away state, so it can still finish on it (the route stops only after in-flight calls end).
     */
    public State state(DeploymentConfig deployment) {
        State s = states.get(deployment.id());
        return s != null ? s : new State(deployment);
    }

    public Collection<State> all() {
        return states.values();
    }
}
