package dev.caravan.transport.bus;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The reply a bus message gets, whatever the bus: the answer's JSON exactly as HTTP would return it (or the error
 * body, in the caller's dialect) and its properties under their contract names: {@code caravan-status} (the HTTP
 * status it would have had), {@code caravan-request-id}, {@code caravan-cost-usd}, {@code caravan-cache}. Each
 * adapter writes these the way its bus spells properties and adds the correlation id.
 *
 * @param deadLetter why the message also goes to the dead-letter destination, or null when the reply is all
 * @param chunks     for a message that asked {@code caravan-stream: chunks}: the stream's chunks in order (each the
 *                   JSON of one event, as the HTTP stream's {@code data:} lines carry it), sent as one message each with
 *                   {@link #SEQUENCE} and, on the last, {@link #LAST}; null for a whole answer (then {@code body} is it)
 */
public record BusReply(int status, byte[] body, Map<String, String> properties, String deadLetter,
                       java.util.List<byte[]> chunks) {

    public static final String STATUS = "caravan-status";
    public static final String REQUEST_ID = "caravan-request-id";
    public static final String COST = "caravan-cost-usd";
    public static final String CACHE = "caravan-cache";
    /** On a dead letter: why it could not be answered (the error code, or {@code no_reply_destination}). */
    public static final String REASON = "caravan-dead-letter-reason";
    /** On a reply that was remembered from an earlier delivery of the same message: {@code true}. */
    public static final String REPLAYED = "caravan-replayed";
    /** On each chunk message of a chunked reply: its place, from 0. */
    public static final String SEQUENCE = "caravan-sequence";
    /** On the last chunk message of a chunked reply: {@code true} (absent on the others). */
    public static final String LAST = "caravan-last";

    public BusReply {
        properties = Map.copyOf(properties);
        chunks = chunks == null ? null : java.util.List.copyOf(chunks);
    }

    public BusReply(int status, byte[] body, Map<String, String> properties, String deadLetter) {
        this(status, body, properties, deadLetter, null);
    }

    public BusReply deadLettered(String reason) {
        return new BusReply(status, body, properties, reason, chunks);
    }

    /**
     * The messages this reply is on its bus, in order: the whole answer (one, with {@link #properties}), or one per
     * chunk, each with the properties plus {@link #SEQUENCE} and, on the last, {@link #LAST}. Adapters send these.
     */
    public java.util.List<Part> parts() {
        if (chunks == null) {
            return java.util.List.of(new Part(body, properties));
        }
        java.util.List<Part> parts = new java.util.ArrayList<>(chunks.size());
        for (int i = 0; i < chunks.size(); i++) {
            Map<String, String> p = new LinkedHashMap<>(properties);
            p.put(SEQUENCE, Integer.toString(i));
            if (i == chunks.size() - 1) {
                p.put(LAST, "true");
            }
            parts.add(new Part(chunks.get(i), Map.copyOf(p)));
        }
        return parts;
    }

    /** One message of a reply: its body and its properties (contract names). */
    public record Part(byte[] body, Map<String, String> properties) {
    }

    /** The same reply marked as given again (a redelivery or a duplicate). */
    public BusReply replayed() {
        Map<String, String> p = new LinkedHashMap<>(properties);
        p.put(REPLAYED, "true");
        return new BusReply(status, body, p, deadLetter, chunks);
    }

    /** For a shared repository: status, properties and the body as text (it is JSON). */
    public String toJson() {
        ObjectNode o = Json.object().put("status", status).put("body", new String(body, StandardCharsets.UTF_8));
        ObjectNode p = o.putObject("properties");
        properties.forEach(p::put);
        if (deadLetter != null) {
            o.put("deadLetter", deadLetter);
        }
        if (chunks != null) {
            com.fasterxml.jackson.databind.node.ArrayNode c = o.putArray("chunks");
            chunks.forEach(chunk -> c.add(new String(chunk, StandardCharsets.UTF_8)));
        }
        return Json.string(o);
    }

    public static BusReply fromJson(String json) {
        JsonNode o = Json.parseObjectOrNull(json);
        if (o == null) {
            throw new IllegalArgumentException("not a remembered reply");
        }
        Map<String, String> p = new LinkedHashMap<>();
        o.path("properties").fields().forEachRemaining(e -> p.put(e.getKey(), e.getValue().asText()));
        java.util.List<byte[]> chunks = null;
        if (o.path("chunks").isArray()) {
            chunks = new java.util.ArrayList<>();
            for (JsonNode chunk : o.get("chunks")) {
                chunks.add(chunk.asText().getBytes(StandardCharsets.UTF_8));
            }
        }
        return new BusReply(o.path("status").asInt(), o.path("body").asText().getBytes(StandardCharsets.UTF_8), p,
                o.hasNonNull("deadLetter") ? o.get("deadLetter").asText() : null, chunks);
    }

    @Override
    public String toString() {
        return "BusReply[" + status + (deadLetter == null ? "" : ", dead letter: " + deadLetter) + "]";
    }
}
