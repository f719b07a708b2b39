package dev.caravan.policy;

import dev.caravan.http.ExchangeKeys;
import dev.caravan.provider.ChatResult;
import org.apache.camel.AsyncCallback;
import org.apache.camel.Exchange;
import org.apache.camel.support.AsyncProcessorSupport;

import java.util.concurrent.CompletableFuture;

/**
 * The after-call step (routes/after-call.camel.yaml): for a whole answer, each after-hook in reverse order, only
 * for policies whose before-hook ran; each may change the answer ({@code caravan.result}). Nothing holds a thread;
 * with no policy configured it returns at once and allocates nothing.
 */
public final class AfterCall extends AsyncProcessorSupport {

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        PolicyCall call = exchange.getProperty(ExchangeKeys.POLICY_CALL, PolicyCall.class);
        ChatResult result = call == null ? null : exchange.getProperty(ExchangeKeys.RESULT, ChatResult.class);
        if (result == null) { // no policy, or a stream (its hooks run on each chunk)
            callback.done(true);
            return true;
        }
        return run(exchange, call, call.chain().size() - 1, result, callback, true);
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
        exchange.setProperty(ExchangeKeys.RESULT, current);
        callback.done(sync);
        return sync;
    }
}
