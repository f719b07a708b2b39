package dev.caravan.policy;

import dev.caravan.core.ExchangeKeys;
import dev.caravan.provider.ChatResult;
import org.apache.camel.AsyncCallback;
import org.apache.camel.Exchange;
import org.apache.camel.support.AsyncProcessorSupport;

import dev.caravan.stream.MeteredStream;
import dev.caravan.stream.ResultStream;
import dev.caravan.stream.StreamHook;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The after-call step (routes/after-call.camel.yaml): for a whole answer, each after-hook in reverse order, only
 * for policies whose before-hook ran; each may change the answer ({@code caravan.result}). For a stream, the same
 * policies' stream hooks are given to it, in the same order, to run on each chunk. Nothing holds a thread; with no
 * policy configured it returns at once and allocates nothing.
 */
public final class AfterCall extends AsyncProcessorSupport {

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        PolicyCall call = exchange.getProperty(ExchangeKeys.POLICY_CALL, PolicyCall.class);
        if (call == null) { // no policy configured
            callback.done(true);
            return true;
        }
        MeteredStream stream = exchange.getProperty(ExchangeKeys.RELAY, MeteredStream.class);
        if (stream != null) {
            try {
                stream.hooks(hooks(call));
            } catch (RuntimeException e) {
                exchange.setException(BeforeCall.failure("onStream", e));
            }
            callback.done(true);
            return true;
        }
        ChatResult result = exchange.getProperty(ExchangeKeys.RESULT, ChatResult.class);
        if (result == null) {
            callback.done(true);
            return true;
        }
        return run(exchange, call, call.chain().size() - 1, result, callback, true);
    }

    /** The stream hooks of the policies whose before-hook ran, in the after-hooks' (reverse) order. */
    private static List<StreamHook> hooks(PolicyCall call) {
        List<StreamHook> hooks = new ArrayList<>(2);
        for (int i = call.chain().size() - 1; i >= 0; i--) {
            StreamHook hook = call.ran(i) ? call.chain().policy(i).onStream(call) : null;
            if (hook != null) {
                hooks.add(hook);
            }
        }
        return hooks;
    }

    /**
     * The answer as the client asked for it: a streaming client answered by a policy (the call was skipped) gets
     * that answer as a stream, which post-processing and the responder then treat as any other.
     */
    private static void settle(Exchange exchange, PolicyCall call, ChatResult answer) {
        if (call.streaming()) {
            exchange.removeProperty(ExchangeKeys.RESULT);
            // nothing was called: the usage the answer shows is not charged again
            exchange.setProperty(ExchangeKeys.RELAY, new MeteredStream(new ResultStream(answer), text -> answer.usage(),
                    exchange.getProperty(ExchangeKeys.START_NANOS, System.nanoTime(), Long.class), true));
        } else {
            exchange.setProperty(ExchangeKeys.RESULT, answer);
        }
    }

    private boolean run(Exchange exchange, PolicyCall call, int from, ChatResult answer, AsyncCallback callback,
                        boolean sync) {
        PolicyChain chain = call.chain();
        ChatResult current = answer;
        for (int i = from; i >= 0; i--) {
            if (!call.ran(i)) {
                continue;
            }
            CompletableFuture<ChatResult> stage;
            try {
                stage = chain.policy(i).after(call, current).toCompletableFuture();
            } catch (RuntimeException e) {
                exchange.setException(BeforeCall.failure(chain.name(i), e));
                callback.done(sync);
                return sync;
            }
            if (!stage.isDone()) {
                int index = i;
                ChatResult before = current;
                stage.whenComplete((changed, error) -> {
                    if (error != null) {
                        exchange.setException(BeforeCall.failure(chain.name(index), error));
                        callback.done(false);
                    } else {
                        run(exchange, call, index - 1, changed == null ? before : changed, callback, false);
                    }
                });
                return false;
            }
            try {
                ChatResult changed = stage.join();
                current = changed == null ? current : changed;
            } catch (RuntimeException e) {
                exchange.setException(BeforeCall.failure(chain.name(i), e));
                callback.done(sync);
                return sync;
            }
        }
        settle(exchange, call, current);
        callback.done(sync);
        return sync;
    }
}
