package dev.caravan.policy;

import dev.caravan.provider.ChatResult;
import dev.caravan.stream.StreamHook;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * One capability on the request path (a limit, a cache, a guardrail, a ledger), named in config/gateway.yaml's
 * {@code policies:} list. Every hook is optional and runs on the request's event loop: it must not block, and anything
 * slow returns a stage completed later (or queues its work, for {@link #end}). docs/architecture.md, "Policies".
 */
public interface Policy {

    /** Shared completed stages: a policy with nothing to do allocates nothing. */
    CompletionStage<Decision> CONTINUE = CompletableFuture.completedFuture(Decision.CONTINUE);

    /** Before the call, in configured order: continue (maybe with a changed request), answer now, or refuse. */
    default CompletionStage<Decision> before(PolicyCall call) {
        return CONTINUE;
    }

    /** A whole answer, in reverse order, only if this policy's {@link #before} ran: the answer, changed or not. */
    default CompletionStage<ChatResult> after(PolicyCall call, ChatResult answer) {
        return CompletableFuture.completedFuture(answer);
    }

    /** A streamed answer, only if {@link #before} ran: a hook that sees each canonical chunk, or null for none. */
    default StreamHook onStream(PolicyCall call) {
        return null;
    }

    /** Exactly once per request that reached the policies, however it ended. Must not block: queue slow work. */
    default void end(PolicyCall call, EndFacts facts) {
    }
}
