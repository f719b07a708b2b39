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
 */
public record BusReply(int status, byte[] body, Map<String, String> properties, String deadLetter) {

    public static final String STATUS = "caravan-status";
    public static final String REQUEST_ID = "caravan-request-id";
    public static final String COST = "caravan-cost-usd";
    public static final String CACHE = "caravan-cache";
    /** On a dead letter: why it could not be answered (the error code, or {@code no_reply_destination}). */
    public static final String REASON = "caravan-dead-letter-reason";
    /** On a reply that was remembered from an earlier delivery of the same message: {@code true}. */
    public static final String REPLAYED = "caravan-replayed";

    public BusReply {
        properties = Map.copyOf(properties);
    }

    public BusReply deadLettered(String reason) {
        return new BusReply(status, body, properties, reason);
    }

    /** The same reply marked as given again (a redelivery or a duplicate). */
    public BusReply replayed() {
        Map<String, String> p = new LinkedHashMap<>(properties);
        p.put(REPLAYED, "true");
        return new BusReply(status, body, p, deadLetter);
    }

    /** For a shared repository: status, properties and the body as text (it is JSON). */
    public String toJson() {
        ObjectNode o = Json.object().put("status", status).put("body", new String(body, StandardCharsets.UTF_8));
        ObjectNode p = o.putObject("properties");
        properties.forEach(p::put);
        if (deadLetter != null) {
            o.put("deadLetter", deadLetter);
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
        return new BusReply(o.path("status").asInt(), o.path("body").asText().getBytes(StandardCharsets.UTF_8), p,
                o.hasNonNull("deadLetter") ? o.get("deadLetter").asText() : null);
    }

    @Override
    public String toString() {
        return "BusReply[" + status + (deadLetter == null ? "" : ", dead letter: " + deadLetter) + "]";
    }
}
