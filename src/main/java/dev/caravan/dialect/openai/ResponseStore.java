package dev.caravan.dialect.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Responses kept for {@code previous_response_id} and {@code GET /v1/responses/{id}}: in this process, bounded by
 * entries and by time since stored (the defaults, 10,000 responses for 1 hour, hold a busy agent's turns; a typical
 * turn with its conversation is a few KB, so tens of MB at most). Each is its owner's: another key is told it does
 * not exist.
 */
public final class ResponseStore {

    public static final int DEFAULT_MAX_ENTRIES = 10_000;
    public static final Duration DEFAULT_TTL = Duration.ofHours(1);

    /** A stored response, whose key made it, and the conversation a follow-up continues (its answer included). */
    public record Stored(String owner, ObjectNode response, List<JsonNode> conversation) {
    }

    private final Cache<String, Stored> entries;

    public ResponseStore(int maxEntries, Duration ttl) {
        this.entries = Caffeine.newBuilder().maximumSize(maxEntries).expireAfterWrite(ttl).build();
    }

    /** Keeps {@code response}: its conversation is the request's turns and the response's own answer. */
    public void keep(String owner, ObjectNode response, ArrayNode requestTurns) {
        List<JsonNode> conversation = new java.util.ArrayList<>();
        requestTurns.forEach(conversation::add);
        conversation.add(ResponsesAnswer.assistantTurn(response));
        entries.put(response.path("id").asText(), new Stored(owner, response, List.copyOf(conversation)));
    }

    /** The response {@code id}, if {@code owner} made it and it is still kept. */
    public Optional<Stored> find(String id, String owner) {
        Stored s = entries.getIfPresent(id);
        return s != null && s.owner().equals(owner) ? Optional.of(s) : Optional.empty();
    }

    public boolean delete(String id, String owner) {
        if (find(id, owner).isEmpty()) {
            return false;
        }
        entries.invalidate(id);
        return true;
    }
}
