package dev.caravan.dialect.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Responses kept for {@code previous_response_id} and {@code GET} / {@code DELETE /v1/responses/{id}}, each its
 * owner's: another key is told it does not exist. The callers run on event loops, so nothing here blocks: {@link #keep}
 * returns at once (a store that writes elsewhere queues the write), {@link #find} and {@link #delete} answer a stage,
 * already complete when the answer is at hand (in memory, or still waiting to be written).
 * {@link MemoryResponseStore} keeps them in this process; {@code responses/SqlResponseStore} in the gateway's database.
 * A stored response and its conversation are never changed once kept (readers share them).
 */
public interface ResponseStore extends AutoCloseable {

    int DEFAULT_MAX_ENTRIES = 10_000;
    /** How long a response is kept in memory unless {@code caravan.responses.ttl} says otherwise. */
    Duration DEFAULT_TTL = Duration.ofHours(1);

    /** A stored response, whose key made it, and the conversation a follow-up continues (its answer included). */
    record Stored(String owner, ObjectNode response, List<JsonNode> conversation) {
    }

    /** Keeps {@code response}: its conversation is the request's turns and the response's own answer. Never blocks. */
    void keep(String owner, ObjectNode response, ArrayNode requestTurns);

    /** The response {@code id}, if {@code owner} made it and it is still kept. */
    CompletionStage<Optional<Stored>> find(String id, String owner);

    /** Removes the response {@code id}: true if {@code owner} made it and it was still kept. */
    CompletionStage<Boolean> delete(String id, String owner);

    /** Stops taking responses; a store that writes elsewhere writes what it holds first. */
    @Override
    default void close() {
    }

    /** What a follow-up continues: the request's turns, then the response's answer as an assistant turn. */
    static Stored stored(String owner, ObjectNode response, ArrayNode requestTurns) {
        List<JsonNode> conversation = new ArrayList<>(requestTurns.size() + 1);
        requestTurns.forEach(conversation::add);
        conversation.add(ResponsesAnswer.assistantTurn(response));
        return new Stored(owner, response, List.copyOf(conversation));
    }
}
