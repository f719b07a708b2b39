package dev.caravan.policy;

import dev.caravan.core.Dialect;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.auth.Principal;
import dev.caravan.config.ModelConfig;
import dev.caravan.core.ExchangeKeys;
import org.apache.camel.AsyncCallback;
import org.apache.camel.Exchange;
import org.apache.camel.support.AsyncProcessorSupport;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The before-call step (routes/before-call.camel.yaml): each policy's before-hook in configured order, none holding
 * a thread (a stage not yet complete resumes the route when it completes). An answer lands in {@code caravan.result}
 * and the call is skipped; a refusal is the exchange's exception. With no policy configured it returns at once and
 * allocates nothing: no PolicyCall, no exchange property, no stage.
 */
public final class BeforeCall extends AsyncProcessorSupport {

    private final PolicyChains chains;

    public BeforeCall(PolicyChains chains) {
        this.chains = chains;
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        PolicyChain chain = chains.current();
        if (chain.isEmpty()) {
            callback.done(true);
            return true;
        }
        Principal principal = exchange.getProperty(ExchangeKeys.PRINCIPAL, Principal.class);
        ModelConfig model = exchange.getProperty(ExchangeKeys.MODEL, ModelConfig.class);
        String modelName = model == null ? null : model.name();
        String keyId = principal == null ? null : principal.keyId();
        @SuppressWarnings("unchecked")
        java.util.List<dev.caravan.config.DeploymentConfig> ranked = exchange.getProperty(ExchangeKeys.DEPLOYMENTS, java.util.List.class);
        PolicyCall call = new PolicyCall(chain, chain.enabledFor(modelName, keyId),
                exchange.getProperty(ExchangeKeys.REQUEST_ID, String.class),
                exchange.getProperty(ExchangeKeys.OPERATION, String.class),
                Dialect.speaksAnthropic(exchange),
                exchange.getProperty(ExchangeKeys.STREAMING, false, Boolean.class), model, ranked, keyId,
                principal == null ? null : principal.team(), principal == null ? null : principal.regions(),
                exchange.getProperty(ExchangeKeys.REQUEST, ObjectNode.class),
                dev.caravan.core.ClientRequest.of(exchange),
                exchange.getProperty(ExchangeKeys.CONTROLS, com.fasterxml.jackson.databind.JsonNode.class),
                exchange.getProperty(ExchangeKeys.PASS_THROUGH) != null,
                ExchangeKeys.ingressOf(exchange));
        exchange.setProperty(ExchangeKeys.POLICY_CALL, call);
        return run(exchange, call, 0, callback, true);
    }

    /**
     * Where a policy's late decision resumes the route: the event loop the request is on, so the rest of its steps
     * run there, as every other step does, and not on the thread that completed the stage (Lettuce's, for Redis,
     * which would then read no other reply until the route let go of it). Off a loop, in place.
     */
    private static java.util.concurrent.Executor resumeOn() {
        io.netty.util.concurrent.EventExecutor loop = io.netty.util.internal.ThreadExecutorMap.currentExecutor();
        return loop != null ? loop : Runnable::run;
    }

    /** From policy {@code from} on; {@code sync}: still on the caller's stack (Camel's async contract). */
    private boolean run(Exchange exchange, PolicyCall call, int from, AsyncCallback callback, boolean sync) {
        PolicyChain chain = call.chain();
        for (int i = from; i < chain.size(); i++) {
            if (!call.enabled(i)) {
                continue;
            }
            CompletableFuture<Decision> stage;
            try {
                stage = chain.policy(i).before(call).toCompletableFuture();
            } catch (RuntimeException e) {
                exchange.setException(failure(chain.name(i), e));
                callback.done(sync);
                return sync;
            }
            call.ran(i, true);
            if (stage.isDone()) { // the usual case: decided on the spot, no hop
                if (!apply(exchange, call, i, stage)) {
                    callback.done(sync);
                    return sync;
                }
                continue;
            }
            int index = i;
            stage.whenCompleteAsync((decision, error) -> {
                if (apply(exchange, call, index, stage)) {
                    run(exchange, call, index + 1, callback, false);
                } else {
                    callback.done(false);
                }
            }, resumeOn());
            return false;
        }
        callback.done(sync);
        return sync;
    }

    /** Applies a completed decision; true when the next policy should run. */
    private static boolean apply(Exchange exchange, PolicyCall call, int index, CompletableFuture<Decision> stage) {
        if (call.responseHeaders() != null) {
            exchange.setProperty(ExchangeKeys.RESPONSE_HEADERS, call.responseHeaders());
        }
        Decision decision;
        try {
            decision = stage.join();
        } catch (RuntimeException e) {
            exchange.setException(failure(call.chain().name(index), e));
            return false;
        }
        if (decision == null) {
            return true; // a stage completed with nothing: nothing to change
        } else if (decision instanceof Decision.Continue c) {
            if (c.request() != null) {
                call.request(c.request());
                exchange.setProperty(ExchangeKeys.REQUEST, c.request());
            }
            return true;
        } else if (decision instanceof Decision.Answer a) {
            exchange.setProperty(ExchangeKeys.RESULT, a.answer());
            exchange.setProperty(ExchangeKeys.STATUS, 200);
            return false;
        } else if (decision instanceof Decision.Refuse r) {
            exchange.setException(r.error());
            return false;
        }
        exchange.setException(failure(call.chain().name(index), new IllegalStateException("no decision")));
        return false;
    }

    /** A policy's own failure: its GatewayException as it is, anything else the gateway's 500. */
    static GatewayException failure(String policy, Throwable e) {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        if (cause instanceof GatewayException g) {
            return g;
        }
        org.slf4j.LoggerFactory.getLogger(BeforeCall.class).warn("Policy {} failed: {}", policy, cause.toString());
        return new GatewayException(500, "server_error", "policy_failed", "A policy failed inside the gateway.");
    }
}
