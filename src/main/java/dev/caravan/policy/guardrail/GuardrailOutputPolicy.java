package dev.caravan.policy.guardrail;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.policy.Decision;
import dev.caravan.policy.Policy;
import dev.caravan.policy.PolicyCall;
import dev.caravan.provider.ChatResult;
import dev.caravan.stream.StreamHook;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The output guardrail ({@code guardrail-output}, built in, placed after the cache so its after-hook runs first):
 * the answer's text checked for the policy's deny patterns (refused) and its PII entities (redacted, masked,
 * refused or flagged) before the cache keeps it and before the client sees it. A whole answer refused is a 400
 * {@code guardrail_blocked}; a stream refused ends with {@code finish_reason: "content_filter"} and an error event,
 * and nothing of what was found reaches the client: the stream holds back only what could still become a finding.
 * Embeddings have no text to check.
 */
public final class GuardrailOutputPolicy implements Policy {

    private static final String ATTRIBUTE = "guardrail-output";

    private final Guardrails guardrails;

    public GuardrailOutputPolicy(Guardrails guardrails) {
        this.guardrails = guardrails;
    }

    @Override
    public CompletionStage<Decision> before(PolicyCall call) {
        Guardrails.Guard guard = guardrails.forCall(call.keyId(), call.team());
        if (guard != null && guard.checksOutput() && call.operation().equals("chat")) {
            call.attribute(ATTRIBUTE, guard);
        }
        return CONTINUE;
    }

    @Override
    public CompletionStage<ChatResult> after(PolicyCall call, ChatResult answer) {
        Guardrails.Guard guard = (Guardrails.Guard) call.attribute(ATTRIBUTE);
        if (guard == null) {
            return CompletableFuture.completedFuture(answer);
        }
        if (guardrails.cpu() != null && textLength(answer.body()) > GuardrailPolicy.CHECK_ON_LOOP_CHARS) {
            return guardrails.cpu().submit(() -> check(call, guard, answer)).thenCompose(stage -> stage);
        }
        return check(call, guard, answer);
    }

    private static long textLength(ObjectNode body) {
        long chars = 0;
        for (com.fasterxml.jackson.databind.JsonNode choice : body.path("choices")) {
            com.fasterxml.jackson.databind.JsonNode content = choice.path("message").path("content");
            chars += content.isTextual() ? content.textValue().length() : content.size() == 0 ? 0 : content.toString().length();
        }
        return chars;
    }

    private CompletionStage<ChatResult> check(PolicyCall call, Guardrails.Guard guard, ChatResult answer) {
        if (guard.deny() != null) {
            List<Hit> denied = GuardedStream.checkAnswer(answer.body(), guard.deny(), Action.BLOCK);
            if (!denied.isEmpty()) {
                return refuse(call, guard, denied.get(0), Action.BLOCK);
            }
        }
        if (guard.piiOutput() == null) {
            return CompletableFuture.completedFuture(answer);
        }
        Action action = guard.piiOutputAction();
        boolean rewrite = action == Action.REDACT || action == Action.MASK;
        ObjectNode body = rewrite ? answer.body().deepCopy() : answer.body(); // the upstream's answer is not written
        List<Hit> hits = GuardedStream.checkAnswer(body, guard.piiOutput(), action);
        if (hits.isEmpty()) {
            return CompletableFuture.completedFuture(answer);
        }
        if (action == Action.BLOCK) {
            return refuse(call, guard, hits.get(0), action);
        }
        hits.forEach(hit -> record(call, guard, hit, action));
        return CompletableFuture.completedFuture(rewrite ? answer.withBody(body) : answer);
    }

    private CompletionStage<ChatResult> refuse(PolicyCall call, Guardrails.Guard guard, Hit hit, Action action) {
        record(call, guard, hit, action);
        return CompletableFuture.failedFuture(GuardrailPolicy.blocked(guard, hit.guard(), hit.entity(), "the answer"));
    }

    private void record(PolicyCall call, Guardrails.Guard guard, Hit hit, Action action) {
        guardrails.events().record(call.requestId(), guard.name(), hit.guard(), hit.entity(), action, "output");
    }

    @Override
    public StreamHook onStream(PolicyCall call) {
        Guardrails.Guard guard = (Guardrails.Guard) call.attribute(ATTRIBUTE);
        if (guard == null) {
            return null;
        }
        StreamHook deny = guard.deny() == null ? null : GuardedStream.checking(guard.deny(), Action.BLOCK,
                hit -> record(call, guard, hit, Action.BLOCK),
                hit -> streamBlocked(guard, hit));
        StreamHook pii = guard.piiOutput() == null ? null : GuardedStream.checking(guard.piiOutput(), guard.piiOutputAction(),
                hit -> record(call, guard, hit, guard.piiOutputAction()),
                hit -> streamBlocked(guard, hit));
        return deny == null ? pii : pii == null ? deny : new Both(deny, pii);
    }

    private static GatewayException streamBlocked(Guardrails.Guard guard, Hit hit) {
        return GuardrailPolicy.blocked(guard, hit.guard(), hit.entity(), "the answer");
    }

    /** Two hooks in a row: what the first releases goes through the second. */
    private record Both(StreamHook first, StreamHook second) implements StreamHook {
        @Override
        public void onChunk(ObjectNode chunk, Out out) {
            first.onChunk(chunk, then(out));
        }

        @Override
        public void onComplete(Out out) {
            first.onComplete(then(out));
            second.onComplete(out);
        }

        private Out then(Out out) {
            return new Out() {
                @Override
                public void emit(ObjectNode chunk) {
                    second.onChunk(chunk, out);
                }

                @Override
                public void fail(GatewayException error) {
                    out.fail(error);
                }
            };
        }
    }
}
