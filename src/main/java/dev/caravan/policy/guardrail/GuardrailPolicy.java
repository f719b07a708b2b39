package dev.caravan.policy.guardrail;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.policy.Decision;
import dev.caravan.policy.Policy;
import dev.caravan.policy.PolicyCall;
import dev.caravan.policy.guardrail.injection.InjectionDetector;
import dev.caravan.provider.ChatResult;
import dev.caravan.stream.StreamHook;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The input guardrail ({@code guardrail}, built in, placed before the cache): the request's text parts checked for
 * PII and secrets, deny patterns, prompt injection and by the operator's webhook, in that order, each on what the
 * one before let through. It may refuse (400 {@code guardrail_blocked}) or change the request (redact, mask,
 * de-identify); after the call it puts de-identified originals back into the answer, whole or streamed. Its
 * after-hook runs after the cache's, so the cache keeps the answer with placeholders in it, never one user's
 * originals. The output checks are {@link GuardrailOutputPolicy}, placed after the cache. README, "Guardrails".
 */
public final class GuardrailPolicy implements Policy {

    static final String ATTRIBUTE = "guardrail";

    private final Guardrails guardrails;

    public GuardrailPolicy(Guardrails guardrails) {
        this.guardrails = guardrails;
    }

    /**
     * Text from which the checks run on the CPU pool rather than the request's event loop: the PII recognizers and
     * the injection rules cost about 1 ms per KB together (README, "Guardrails"), so a large tool result would
     * hold a loop for tens of milliseconds. Below it, the hop would cost more than it saves.
     */
    static final int CHECK_ON_LOOP_CHARS = 4 * 1024;

    @Override
    public CompletionStage<Decision> before(PolicyCall call) {
        Guardrails.Guard guard = guardrails.forCall(call.keyId(), call.team());
        if (guard == null || call.request() == null) {
            return CONTINUE;
        }
        List<RequestTexts.Part> parts = RequestTexts.of(call.request());
        if (parts.isEmpty()) {
            return CONTINUE;
        }
        long chars = 0;
        for (RequestTexts.Part p : parts) {
            chars += p.text().length();
        }
        if (chars > CHECK_ON_LOOP_CHARS && guardrails.cpu() != null) {
            // a full pool answers 503 (CpuPool.Busy): never a request let through unchecked
            return guardrails.cpu().submit(() -> check(call, guard, parts)).thenCompose(stage -> stage);
        }
        return check(call, guard, parts);
    }

    private CompletionStage<Decision> check(PolicyCall call, Guardrails.Guard guard, List<RequestTexts.Part> parts) {
        ObjectNode request = call.request();
        Placeholders placeholders = null;
        if (guard.inputCheck() != null) {
            List<List<Hit>> hits = new ArrayList<>(parts.size());
            boolean change = false;
            for (RequestTexts.Part part : parts) {
                List<Hit> found = guard.inputCheck().scan(part.text());
                hits.add(found);
                for (Hit hit : found) {
                    Action action = hit.guard().equals("deny") ? Action.BLOCK : guard.piiInput();
                    guardrails.events().record(call.requestId(), guard.name(), hit.guard(), hit.entity(), action, "input");
                    if (action == Action.BLOCK) {
                        return refuse(blocked(guard, hit.guard(), hit.entity(), "the request"));
                    }
                    change |= action != Action.ALERT;
                }
            }
            if (change) {
                request = request.deepCopy(); // the client's request stays as it came (the access log, a retry)
                parts = RequestTexts.of(request);
                if (guard.piiInput() == Action.DEIDENTIFY) {
                    placeholders = new Placeholders();
                    for (RequestTexts.Part part : parts) {
                        placeholders.reserve(part.text()); // a literal "<EMAIL_1>" the user typed is never "restored"
                    }
                }
                List<RequestTexts.Part> sent = new ArrayList<>(parts.size()); // the parts as the provider reads them
                for (int i = 0; i < parts.size(); i++) {
                    List<Hit> found = hits.get(i);
                    RequestTexts.Part part = parts.get(i);
                    if (!found.isEmpty()) {
                        String changed = placeholders != null ? placeholders.deidentify(part.text(), found)
                                : Redaction.apply(part.text(), found, guard.piiInput());
                        part.replace().accept(changed);
                        part = new RequestTexts.Part(changed, part.source(), part.replace());
                    }
                    sent.add(part);
                }
                parts = sent;
                if (placeholders != null && !placeholders.isEmpty()) {
                    call.attribute(ATTRIBUTE, placeholders);
                }
            }
        }
        if (guard.webhook() != null && request == call.request()) {
            request = request.deepCopy(); // the webhook may send replacement texts
            parts = RequestTexts.of(request);
        }
        ObjectNode checked = request;
        List<RequestTexts.Part> seen = parts;
        CompletionStage<GatewayException> refusal = injection(call, guard, seen);
        if (guard.webhook() != null) {
            refusal = refusal.thenCompose(r -> r != null ? CompletableFuture.completedFuture(r)
                    : webhook(call, guard, checked, seen));
        }
        boolean changed = checked != call.request();
        return refusal.thenApply(r -> r != null ? Decision.refuse(r)
                : changed ? Decision.proceed(checked) : Decision.CONTINUE);
    }

    private CompletionStage<GatewayException> injection(PolicyCall call, Guardrails.Guard guard,
                                                        List<RequestTexts.Part> parts) {
        if (guard.injection() == Action.OFF) {
            return NO_REFUSAL;
        }
        List<String> texts = new ArrayList<>();
        for (RequestTexts.Part p : parts) {
            if (p.fromUserOrTool()) {
                texts.add(p.text());
            }
        }
        if (texts.isEmpty()) {
            return NO_REFUSAL;
        }
        InjectionDetector detector = guardrails.injection();
        if (!guard.semantic()) {
            for (RequestTexts.Part p : parts) {
                String rule = p.fromUserOrTool() ? detector.rule(p.text()) : null;
                if (rule != null) {
                    return CompletableFuture.completedFuture(injected(call, guard, rule, p.source()));
                }
            }
            return guard.classifier() == null ? NO_REFUSAL : classified(call, guard, texts);
        }
        return detector.check(texts, guard.threshold()).thenCompose(v -> {
            if (!v.attack()) {
                return guard.classifier() == null ? NO_REFUSAL : classified(call, guard, texts);
            }
            RequestTexts.Source where = RequestTexts.Source.USER;
            for (RequestTexts.Part p : parts) {
                if (p.source() == RequestTexts.Source.TOOL_RESULT && detector.rule(p.text()) != null) {
                    where = RequestTexts.Source.TOOL_RESULT;
                }
            }
            return CompletableFuture.completedFuture(
                    injected(call, guard, v.reason() == null ? "semantic" : v.reason(), where));
        });
    }

    /** The operator's ONNX classifier, after the rules and the semantic detector let the texts through. */
    private CompletionStage<GatewayException> classified(PolicyCall call, Guardrails.Guard guard, List<String> texts) {
        return guard.classifier().check(texts, guard.classifierThreshold()).thenApply(v ->
                v.attack() ? injected(call, guard, "classifier", RequestTexts.Source.USER) : null);
    }

    /** The injection finding acted on: a refusal under block, null (logged and counted) under alert. */
    private GatewayException injected(PolicyCall call, Guardrails.Guard guard, String rule, RequestTexts.Source where) {
        guardrails.events().record(call.requestId(), guard.name(), "injection", rule, guard.injection(), "input");
        return guard.injection() == Action.BLOCK ? blocked(guard, "injection", rule,
                where == RequestTexts.Source.TOOL_RESULT ? "a tool result" : "the request") : null;
    }

    private CompletionStage<GatewayException> webhook(PolicyCall call, Guardrails.Guard guard, ObjectNode request,
                                                      List<RequestTexts.Part> parts) {
        return guard.webhook().check(call.requestId(), call.model(), call.team(), parts).thenApply(v -> {
            if (v.error() != null) {
                Action action = guard.allowOnWebhookError() ? Action.ALERT : Action.BLOCK;
                guardrails.events().record(call.requestId(), guard.name(), "webhook", "error", action, "input");
                org.slf4j.LoggerFactory.getLogger("dev.caravan.guardrail").warn(
                        "Guardrail webhook of policy {} failed for request {} ({}): {}", guard.name(), call.requestId(),
                        v.error(), guard.allowOnWebhookError() ? "allowed (onError: allow)" : "refused (onError: block)");
                return guard.allowOnWebhookError() ? null : new GatewayException(400, "invalid_request_error",
                        "guardrail_blocked", "The request was refused by the guardrail policy '" + guard.name()
                        + "': its webhook check could not be completed (" + v.error() + ") and onError is block.");
            }
            if (v.block()) {
                guardrails.events().record(call.requestId(), guard.name(), "webhook", v.category(), Action.BLOCK, "input");
                return blocked(guard, "webhook", v.category(), "the request");
            }
            if (v.texts() != null) { // the parts of the request's copy: the client's own is never written
                for (int i = 0; i < parts.size(); i++) {
                    if (!v.texts().get(i).equals(parts.get(i).text())) {
                        parts.get(i).replace().accept(v.texts().get(i));
                        guardrails.events().record(call.requestId(), guard.name(), "webhook", "replace",
                                Action.REDACT, "input");
                    }
                }
            }
            return null;
        });
    }

    @Override
    public CompletionStage<ChatResult> after(PolicyCall call, ChatResult answer) {
        Placeholders placeholders = (Placeholders) call.attribute(ATTRIBUTE);
        if (placeholders == null) {
            return CompletableFuture.completedFuture(answer);
        }
        ObjectNode body = answer.body().deepCopy(); // the cache may hold the body with placeholders: never write it
        GuardedStream.restore(body, placeholders);
        return CompletableFuture.completedFuture(answer.withBody(body));
    }

    @Override
    public StreamHook onStream(PolicyCall call) {
        Placeholders placeholders = (Placeholders) call.attribute(ATTRIBUTE);
        return placeholders == null ? null : GuardedStream.restoring(placeholders);
    }

    private static final CompletionStage<GatewayException> NO_REFUSAL = CompletableFuture.completedFuture(null);

    private static CompletionStage<Decision> refuse(GatewayException e) {
        return CompletableFuture.completedFuture(Decision.refuse(e));
    }

    /** 400 {@code guardrail_blocked}, naming the policy, the guard and what it found; never the text. */
    static GatewayException blocked(Guardrails.Guard guard, String by, String entity, String where) {
        String what = switch (by) {
            case "pii" -> "personal data or a secret (" + entity + ")";
            case "deny" -> "a denied pattern (" + entity + ")";
            case "injection" -> "a prompt injection (" + entity + ")";
            default -> "the webhook's check (" + entity + ")";
        };
        return new GatewayException(400, "invalid_request_error", "guardrail_blocked", "The request was refused by the "
                + "guardrail policy '" + guard.name() + "': guard " + by + " found " + what + " in " + where + ".");
    }
}
