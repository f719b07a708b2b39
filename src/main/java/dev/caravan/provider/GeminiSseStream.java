package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;
import dev.caravan.config.DeploymentConfig;

import java.util.HashMap;
import java.util.Map;

/**
 * Gemini's {@code streamGenerateContent?alt=sse} as canonical chunks. Each event is a whole
 * GenerateContentResponse holding the next piece of each candidate; function calls arrive whole, never in pieces.
 * There is no terminal event: the body ends after the event with a finishReason, and the last usageMetadata seen
 * becomes a usage-only chunk at the end.
 */
final class GeminiSseStream extends SseChatStream {

    private String id;
    private boolean started;
    private final String model;
    private final long created = System.currentTimeMillis() / 1000;
    // per candidate index: a handful at most (candidateCount)
    private final Map<Integer, Integer> toolCallsSent = new HashMap<>();
    private final Map<Integer, Boolean> roleSent = new HashMap<>();
    private ObjectNode usage;
    private String responseModel;

    GeminiSseStream(DeploymentConfig deployment, Map<String, String> headers, UpstreamClient.Call call, String id) {
        super(deployment, headers, call);
        this.id = id;
        this.model = deployment.model();
    }

    @Override
    protected void onEvent(String event, String data) {
        ObjectNode response = Json.parseObjectOrNull(data);
        if (response == null) {
            garbage("a stream event that is not JSON");
            return;
        }
        if (response.has("error")) {
            int status = response.path("error").path("code").asInt(500);
            failAfterQueued(UpstreamErrors.fromStatus(deployment, status, Json.bytes(response), Map.of()));
            return;
        }
        if (!started) {
            started = true;
            id = response.path("responseId").asText(id);
            responseModel = response.path("modelVersion").asText(null);
        }
        if (response.has("usageMetadata")) {
            usage = GeminiResponse.usage(response.get("usageMetadata"));
        }
        JsonNode candidates = response.path("candidates");
        if (candidates.isEmpty() && response.path("promptFeedback").hasNonNull("blockReason")) {
            ObjectNode choice = choice(0);
            choice.put("finish_reason", "content_filter");
            push(chunk(choice));
            finishSeen();
            return;
        }
        for (JsonNode candidate : candidates) {
            onCandidate(candidate);
        }
    }

    private void onCandidate(JsonNode candidate) {
        int index = candidate.path("index").asInt(0);
        ObjectNode choice = choice(index);
        ObjectNode delta = (ObjectNode) choice.get("delta");
        GeminiResponse.CandidateParts parts = GeminiResponse.CandidateParts.of(candidate);
        ArrayNode calls = parts.calls();
        for (JsonNode call : calls) {
            // a stream numbers each candidate's calls across events, as OpenAI's deltas do
            ((ObjectNode) call).put("index", toolCallsSent.merge(index, 1, Integer::sum) - 1);
        }
        if (!parts.text().isEmpty()) {
            delta.put("content", parts.text());
        }
        if (!parts.thoughts().isEmpty()) {
            delta.put("reasoning_content", parts.thoughts());
        }
        if (!calls.isEmpty()) {
            delta.set("tool_calls", calls);
        }
        if (!delta.isEmpty()) {
            push(chunk(choice));
        }
        String finish = candidate.path("finishReason").asText(null);
        if (finish != null) {
            ObjectNode last = choice(index);
            last.put("finish_reason", GeminiResponse.finishReason(finish, toolCallsSent.containsKey(index)));
            push(chunk(last));
            finishSeen();
        }
    }

    /** A choice with an empty delta; the first one of a candidate carries the assistant role. */
    private ObjectNode choice(int index) {
        ObjectNode choice = Json.object();
        choice.put("index", index);
        ObjectNode delta = choice.putObject("delta");
        if (roleSent.put(index, Boolean.TRUE) == null) {
            delta.put("role", "assistant");
        }
        choice.putNull("finish_reason");
        return choice;
    }

    private ObjectNode chunk(ObjectNode choice) {
        ObjectNode chunk = StreamChunks.envelope(id, created, responseModel != null ? responseModel : model);
        chunk.putArray("choices").add(choice);
        return chunk;
    }

    @Override
    protected void onUpstreamEnd() {
        if (usage != null) {
            push(StreamChunks.usage(id, created, responseModel != null ? responseModel : model, usage));
        }
    }
}
