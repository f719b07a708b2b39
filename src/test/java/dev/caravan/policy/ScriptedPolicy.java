package dev.caravan.policy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.provider.ChatResult;
import dev.caravan.stream.StreamHook;
import dev.caravan.usage.Usage;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A policy for tests, steered by words in the request's messages: REFUSE, ANSWER, REWRITE, CHANGE, LATER (decides
 * after a delay, off the loop), and for streams UPPER (change each chunk), HOLD (hold each chunk, release it with
 * the next), DROP (drop chunks whose text is "drop-me"), FAIL (end the stream with an error at its second chunk).
 * Every end is recorded under the request's {@code case-N} word, to prove each request ends once.
 */
final class ScriptedPolicy implements Policy {

    private static final Pattern CASE = Pattern.compile("case-[0-9]+");

    // bounded by the test's requests
    final Map<String, Queue<EndFacts>> ends = new ConcurrentHashMap<>();
    final Queue<String> beforeRan = new ConcurrentLinkedQueue<>();

    @Override
    public CompletionStage<Decision> before(PolicyCall call) {
        String text = call.request().path("messages").toString();
        beforeRan.add(caseOf(call));
        if (text.contains("REFUSE")) {
            return CompletableFuture.completedFuture(Decision.refuse(
                    new GatewayException(429, "rate_limit_error", "policy_refused", "Refused by the scripted policy.")));
        }
        if (text.contains("ANSWER")) {
            ObjectNode body = Json.object().put("id", "chatcmpl-policy").put("object", "chat.completion")
                    .put("created", 1).put("model", call.model());
            ObjectNode choice = body.putArray("choices").addObject().put("index", 0).put("finish_reason", "stop");
            choice.putObject("message").put("role", "assistant").put("content", "answered by the policy");
            return CompletableFuture.completedFuture(Decision.answer(new ChatResult(body, Map.of(), Usage.NONE)));
        }
        if (text.contains("REWRITE")) {
            ObjectNode changed = call.request().deepCopy();
            changed.withArray("messages").addObject().put("role", "system").put("content", "rewritten by the policy");
            return CompletableFuture.completedFuture(Decision.proceed(changed));
        }
        if (text.contains("LATER")) {
            return CompletableFuture.supplyAsync(() -> Decision.CONTINUE,
                    CompletableFuture.delayedExecutor(50, TimeUnit.MILLISECONDS));
        }
        return CONTINUE;
    }

    @Override
    public CompletionStage<ChatResult> after(PolicyCall call, ChatResult answer) {
        if (call.request().path("messages").toString().contains("CHANGE")) {
            ObjectNode body = answer.body().deepCopy();
            ((ObjectNode) body.at("/choices/0/message")).put("content", "changed by the policy");
            return CompletableFuture.completedFuture(new ChatResult(body, answer.headers(), answer.usage()));
        }
        return CompletableFuture.completedFuture(answer);
    }

    @Override
    public StreamHook onStream(PolicyCall call) {
        String text = call.request().path("messages").toString();
        if (text.contains("UPPER")) {
            return (chunk, out) -> {
                for (var choice : chunk.path("choices")) {
                    ObjectNode delta = (ObjectNode) choice.path("delta");
                    if (delta.hasNonNull("content")) {
                        delta.put("content", delta.get("content").asText().toUpperCase(java.util.Locale.ROOT));
                    }
                }
                out.emit(chunk);
            };
        }
        if (text.contains("HOLD")) {
            return new StreamHook() {
                private final List<ObjectNode> held = new ArrayList<>(); // at most one chunk

                @Override
                public void onChunk(ObjectNode chunk, Out out) {
                    held.forEach(out::emit);
                    held.clear();
                    held.add(chunk);
                }

                @Override
                public void onComplete(Out out) {
                    held.forEach(out::emit);
                    held.clear();
                }
            };
        }
        if (text.contains("DROP")) {
            return (chunk, out) -> {
                if (!chunk.at("/choices/0/delta/content").asText("").equals("drop-me")) {
                    out.emit(chunk);
                }
            };
        }
        if (text.contains("FAIL")) {
            int[] seen = {0};
            return (chunk, out) -> {
                if (++seen[0] == 2) {
                    out.fail(new GatewayException(502, "server_error", "policy_stopped", "Stopped by the scripted policy."));
                } else {
                    out.emit(chunk);
                }
            };
        }
        return null;
    }

    @Override
    public void end(PolicyCall call, EndFacts facts) {
        ends.computeIfAbsent(caseOf(call), k -> new ConcurrentLinkedQueue<>()).add(facts);
    }

    private static String caseOf(PolicyCall call) {
        Matcher m = CASE.matcher(call.request().path("messages").toString());
        return m.find() ? m.group() : "none";
    }
}
