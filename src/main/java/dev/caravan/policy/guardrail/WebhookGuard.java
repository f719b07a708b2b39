package dev.caravan.policy.guardrail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.GuardrailConfig;
import dev.caravan.core.Json;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * An operator's own check (Presidio, Lakera, a service of theirs): the request's text parts POSTed as JSON, the
 * answer's verdict applied. Asynchronous: the request's event loop waits for nothing.
 *
 * <p>The contract (README, "Guardrails"): Caravan sends
 * {@code {"direction":"input","requestId":..,"model":..,"team":..,"texts":[{"role":"user","text":".."},..]}}
 * (the texts as the provider would receive them, after the PII guard's changes) and reads
 * {@code {"verdict":"allow"}}, {@code {"verdict":"block","category":"toxicity"}} or
 * {@code {"verdict":"allow","texts":[".."]}} (one replacement per text sent, in order). A timeout, a status other
 * than 2xx, or an answer it cannot read is an error: {@code onError} decides, and {@code block} is the default.
 */
public final class WebhookGuard {

    /** What the webhook decided; {@code texts} null unless it replaced them; {@code error} when it could not answer. */
    public record Verdict(boolean block, String category, List<String> texts, String error) {
        static Verdict failed(String why) {
            return new Verdict(false, null, null, why);
        }
    }

    private static final int MAX_ANSWER_BYTES = 4 * 1024 * 1024; // a replacement is at most the request's size

    private final HttpClient client;
    private final GuardrailConfig.Webhook config;

    public WebhookGuard(HttpClient client, GuardrailConfig.Webhook config) {
        this.client = client;
        this.config = config;
    }

    public GuardrailConfig.Webhook config() {
        return config;
    }

    /** Never fails: an error is a verdict with {@code error} set. */
    public CompletionStage<Verdict> check(String requestId, String model, String team, List<RequestTexts.Part> parts) {
        ObjectNode body = Json.object().put("direction", "input").put("requestId", requestId);
        body.put("model", model);
        body.put("team", team);
        ArrayNode texts = body.putArray("texts");
        for (RequestTexts.Part p : parts) {
            texts.addObject().put("role", role(p.source())).put("text", p.text());
        }
        HttpRequest.Builder request = HttpRequest.newBuilder(config.url())
                .timeout(config.timeout())
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(Json.bytes(body)));
        config.headers().forEach(request::header);
        CompletableFuture<Verdict> verdict;
        try {
            verdict = client.sendAsync(request.build(), HttpResponse.BodyHandlers.ofByteArray())
                    .thenApply(r -> read(r, parts.size()));
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(Verdict.failed(e.getClass().getSimpleName()));
        }
        return verdict.orTimeout(config.timeout().toMillis() + 50, TimeUnit.MILLISECONDS)
                .exceptionally(e -> Verdict.failed(cause(e)));
    }

    private static Verdict read(HttpResponse<byte[]> response, int sent) {
        if (response.statusCode() / 100 != 2) {
            return Verdict.failed("status " + response.statusCode());
        }
        if (response.body().length > MAX_ANSWER_BYTES) {
            return Verdict.failed("an answer over " + MAX_ANSWER_BYTES + " bytes");
        }
        JsonNode answer;
        try {
            answer = Json.MAPPER.readTree(response.body());
        } catch (java.io.IOException e) {
            return Verdict.failed("an answer that is not JSON");
        }
        String verdict = answer.path("verdict").asText("");
        if (verdict.equals("block")) {
            String category = answer.path("category").asText("");
            // the category becomes a metric label and a log word: keep it short and plain
            category = category.matches("[A-Za-z0-9_.-]{1,40}") ? category : "webhook";
            return new Verdict(true, category, null, null);
        }
        if (!verdict.equals("allow")) {
            return Verdict.failed("an answer without verdict allow or block");
        }
        JsonNode replaced = answer.get("texts");
        if (replaced == null || replaced.isNull()) {
            return new Verdict(false, null, null, null);
        }
        if (!replaced.isArray() || replaced.size() != sent) {
            return Verdict.failed("texts that do not match the " + sent + " texts sent");
        }
        List<String> texts = new ArrayList<>(sent);
        for (JsonNode t : replaced) {
            if (!t.isTextual()) {
                return Verdict.failed("a replacement text that is not a string");
            }
            texts.add(t.asText());
        }
        return new Verdict(false, null, texts, null);
    }

    private static String cause(Throwable e) {
        Throwable c = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
        if (c instanceof java.net.http.HttpTimeoutException || c instanceof java.util.concurrent.TimeoutException) {
            return "timeout";
        }
        return c instanceof java.net.ConnectException ? "connection refused" : c.getClass().getSimpleName();
    }

    private static String role(RequestTexts.Source source) {
        return switch (source) {
            case SYSTEM -> "system";
            case ASSISTANT, TOOL_ARGUMENTS -> "assistant";
            case TOOL_RESULT -> "tool";
            case USER, EMBEDDING_INPUT -> "user";
        };
    }
}
