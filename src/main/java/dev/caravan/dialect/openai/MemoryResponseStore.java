package dev.caravan.dialect.openai;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Responses kept in this process (the gateway without a database), bounded by entries and by time since stored: the
 * defaults, 10,000 responses for 1 hour, hold a busy agent's turns; a typical turn with its conversation is a few KB,
 * so tens of MB at most. Every answer is at hand: the stages it returns are complete.
 */
public final class MemoryResponseStore implements ResponseStore {

    private final Cache<String, Stored> entries;

    public MemoryResponseStore(int maxEntries, Duration ttl) {
        this.entries = Caffeine.newBuilder().maximumSize(maxEntries).expireAfterWrite(ttl).build();
    }

    @Override
    public void keep(String owner, ObjectNode response, ArrayNode requestTurns) {
        entries.put(response.path("id").asText(), ResponseStore.stored(owner, response, requestTurns));
    }

    @Override
    public CompletionStage<Optional<Stored>> find(String id, String owner) {
        return CompletableFuture.completedFuture(mine(id, owner));
    }

    @Override
    public CompletionStage<Boolean> delete(String id, String owner) {
        Optional<Stored> found = mine(id, owner);
        found.ifPresent(s -> entries.asMap().remove(id, s));
        return CompletableFuture.completedFuture(found.isPresent());
    }

    private Optional<Stored> mine(String id, String owner) {
        Stored s = entries.getIfPresent(id);
        return s != null && s.owner().equals(owner) ? Optional.of(s) : Optional.empty();
    }
}
