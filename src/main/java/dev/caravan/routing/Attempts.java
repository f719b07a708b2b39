package dev.caravan.routing;

import dev.caravan.core.GatewayException;
import dev.caravan.auth.Principal;
import dev.caravan.config.ConfigHolder;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ModelConfig;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.PassThrough;
import dev.caravan.stream.MeteredStream;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.camel.Exchange;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The call step's bean (routes/call.camel.yaml loops over it): begins a request's {@link AttemptPlan}, acts on what
 * each attempt gave, and says how the request ends. The jobs are the pieces': {@link DeploymentPicker} picks the next
 * deployment, {@link FailureJudge} says what a failure means, {@link FallbackControls} which fallbacks a request has.
 */
public final class Attempts {

    private final MeterRegistry meters;
    private final DeploymentRegistry deployments;
    private final DeploymentPicker picker;
    private final FallbackControls fallbackControls;

    public Attempts(ConfigHolder config, ModelRouter router, DeploymentRegistry deployments, MeterRegistry meters) {
        this.meters = meters;
        this.deployments = deployments;
        this.picker = new DeploymentPicker(config, router, deployments, meters);
        this.fallbackControls = new FallbackControls(config);
    }

    /** Starts the plan with the ranked deployments of the requested model and picks the first attempt. */
    public void begin(Exchange exchange) {
        ModelConfig model = exchange.getProperty(ExchangeKeys.MODEL, ModelConfig.class);
        boolean streaming = exchange.getProperty(ExchangeKeys.STREAMING, false, Boolean.class);
        long start = exchange.getProperty(ExchangeKeys.START_NANOS, System.nanoTime(), Long.class);
        // a stream has no overall deadline: each attempt has its first-byte timeout, and a long stream is fine
        long deadline = streaming ? Long.MAX_VALUE : start + model.routing().deadline().toNanos();
        AttemptPlan plan = new AttemptPlan(streaming, deadline, exchange.getProperty(ExchangeKeys.PRINCIPAL, Principal.class),
                passThroughAsSent(exchange));
        @SuppressWarnings("unchecked")
        List<DeploymentConfig> ranked = exchange.getProperty(ExchangeKeys.DEPLOYMENTS, List.class);
        plan.useModel(model, ranked);
        plan.fallbacks.addAll(fallbackControls.fallbacksFor(exchange, model));
        exchange.setProperty(ExchangeKeys.ATTEMPTS, plan);
        picker.pickNext(exchange, plan);
    }

    /**
     * The request's pass-through, if the policies left the request as the door made it. A before-hook that changed
     * it (a guardrail's redaction) changed what the client's own body would send: a request that must pass through
     * is refused rather than sent unchanged, one that may is sent translated, with the change.
     */
    private static PassThrough passThroughAsSent(Exchange exchange) {
        PassThrough pass = exchange.getProperty(ExchangeKeys.PASS_THROUGH, PassThrough.class);
        if (pass == null) {
            return null;
        }
        Object request = exchange.getProperty(ExchangeKeys.REQUEST);
        if (request == pass.canonical() || pass.canonical().equals(request)) {
            return pass;
        }
        if (pass.required()) {
            throw GatewayException.badRequest("pass_through_refused", null, "A policy changed this request (a "
                    + "guardrail's redaction, say), but it can only be sent to the upstream's own /" + pass.endpoint()
                    + " as the client wrote it: it is refused rather than sent without the change.");
        }
        exchange.removeProperty(ExchangeKeys.PASS_THROUGH);
        return null;
    }

    /** The wait before the picked attempt: backoff on a deployment tried before, or its rate-limit cool-down. */
    public long backoffMillis(Exchange exchange) {
        return plan(exchange).backoffMillis;
    }

    /** The picked deployment answered: tell its breaker, remember its latency. */
    public void succeeded(Exchange exchange) {
        AttemptPlan plan = plan(exchange);
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

    /** The picked deployment failed: judge it, let its breaker learn, then pick the next attempt or stop. */
    public void failed(Exchange exchange) {
        AttemptPlan plan = plan(exchange);
        Throwable caught = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        FailureJudge.Verdict verdict = FailureJudge.judge(exchange, caught, plan.model, plan.principal);
        GatewayException error = verdict.error();
        DeploymentRegistry.State s = plan.current;
        long took = System.nanoTime() - plan.attemptStart;
        s.leave();
        plan.current = null;
        plan.lastError = error;
        plan.log.add(s.id() + " " + AttemptPlan.describe(error));
        exchange.removeProperty(ExchangeKeys.DEPLOYMENT_ID);
        exchange.removeProperty(ExchangeKeys.RELAY);

        switch (verdict.lesson()) {
            case NONE -> s.breaker().releasePermission();
            case HEALTHY -> s.breaker().onSuccess(took, TimeUnit.NANOSECONDS);
            case FAULT -> {
                s.breaker().onError(took, TimeUnit.NANOSECONDS, error);
                s.recordError(AttemptPlan.describe(error));
            }
        }
        if (verdict instanceof FailureJudge.AnswerNow) {
            plan.stop();
            return;
        }
        if (verdict instanceof FailureJudge.CoolDown coolDown) {
            s.coolDown(coolDown.rest());
            s.recordError(AttemptPlan.describe(error));
        } else if (verdict instanceof FailureJudge.FallBack fallBack) {
            plan.stop();
            plan.fallbacks.addAll(fallBack.models());
        }
        if (picker.pickNext(exchange, plan)) {
            Counter.builder("caravan.retries").description("Attempts after a failed one")
                    .tags("model", plan.model.name()).register(meters).increment();
        }
    }

    /** After the loop: the answer is there, or the last error (the deadline's, listing the attempts) is thrown. */
    public void finish(Exchange exchange) {
        AttemptPlan plan = plan(exchange);
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

    private static AttemptPlan plan(Exchange exchange) {
        return exchange.getProperty(ExchangeKeys.ATTEMPTS, AttemptPlan.class);
    }
}
