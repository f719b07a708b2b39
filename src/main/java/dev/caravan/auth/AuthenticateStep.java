package dev.caravan.auth;

import dev.caravan.core.ClientRequest;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.GatewayException;
import org.apache.camel.AsyncCallback;
import org.apache.camel.Exchange;
import org.apache.camel.support.AsyncProcessorSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The authenticate step (routes/authenticate.camel.yaml, and the admin and health routes with their own gate): sets
 * {@code caravan.principal} from a virtual key or a JWT access token, or fails with 401 (403 at a gate the caller may
 * not pass). Synchronous for keys and for tokens whose issuer's keys are cached; only when those keys must be
 * fetched does the route wait, holding no thread, and resume on the request's event loop.
 */
public final class AuthenticateStep extends AsyncProcessorSupport {

    private static final Logger LOG = LoggerFactory.getLogger(AuthenticateStep.class);

    private final KeyAuthenticator callers;
    private final Gate gate;

    public AuthenticateStep(KeyAuthenticator callers, Gate gate) {
        this.callers = callers;
        this.gate = gate;
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        if (gate.open(exchange)) {
            callback.done(true);
            return true;
        }
        CompletableFuture<Principal> principal;
        try {
            principal = callers.principalOf(ClientRequest.of(exchange)).toCompletableFuture();
        } catch (RuntimeException e) {
            exchange.setException(failure(e));
            callback.done(true);
            return true;
        }
        if (principal.isDone()) { // a key, or a token whose keys are cached: no hop
            admit(exchange, principal);
            callback.done(true);
            return true;
        }
        principal.whenCompleteAsync((p, e) -> {
            admit(exchange, principal);
            callback.done(false);
        }, resumeOn());
        return false;
    }

    private void admit(Exchange exchange, CompletableFuture<Principal> principal) {
        try {
            exchange.setProperty(ExchangeKeys.PRINCIPAL, gate.admit(principal.join()));
        } catch (RuntimeException e) {
            exchange.setException(failure(e));
        }
    }

    /** A refusal as it is; anything else is a verifier's bug, which still refuses the caller (401), never a 500. */
    private static GatewayException failure(Throwable e) {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        if (cause instanceof GatewayException g) {
            return g;
        }
        // the class and frame only: a message might quote the credential
        StackTraceElement[] frames = cause.getStackTrace();
        LOG.warn("Authentication failed inside the gateway ({} at {}); answered 401", cause.getClass().getName(),
                frames.length == 0 ? "unknown" : frames[0]);
        return GatewayException.unauthorized("The credential could not be verified.");
    }

    /** Where a late answer resumes the route: the event loop the request is on (off a loop, in place). */
    private static java.util.concurrent.Executor resumeOn() {
        io.netty.util.concurrent.EventExecutor loop = io.netty.util.internal.ThreadExecutorMap.currentExecutor();
        return loop != null ? loop : Runnable::run;
    }
}
