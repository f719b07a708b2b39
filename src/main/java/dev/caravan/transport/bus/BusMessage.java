package dev.caravan.transport.bus;

import java.util.Locale;
import java.util.Map;

/**
 * A request message as its bus adapter read it, the same for every bus: the body (a model request in JSON), its
 * properties under their contract names ({@code caravan-api-key}, {@code caravan-operation}, {@code caravan-dialect},
 * {@code caravan-idempotency-key}, {@code authorization}, lower case; an adapter maps a bus's own spelling, such as
 * JMS's {@code caravan_api_key}, to these), and what the bus itself knows of it.
 *
 * @param bus       {@code jms}, {@code amqp} or {@code kafka}: the {@code ingress} label
 * @param messageId the bus's id of this message, the same on a redelivery (JMSMessageID, AMQP message-id, Kafka
 *                  topic-partition@offset), or null when it has none
 * @param canReply  the message names where its reply goes (JMSReplyTo, reply-to; always on Kafka)
 */
public record BusMessage(String bus, String messageId, Map<String, String> properties, byte[] body, boolean canReply) {

    public static final String API_KEY = "caravan-api-key";
    public static final String OPERATION = "caravan-operation";
    public static final String DIALECT = "caravan-dialect";
    public static final String IDEMPOTENCY_KEY = "caravan-idempotency-key";
    public static final String STREAM = "caravan-stream";
    /** The properties that carry a credential, in any bus's spelling: never copied onto a dead letter. */
    public static final java.util.Set<String> CREDENTIALS = java.util.Set.of(API_KEY, "caravan_api_key", "authorization");

    public BusMessage {
        Map<String, String> lower = new java.util.HashMap<>();
        properties.forEach((k, v) -> {
            if (k != null && v != null) {
                lower.putIfAbsent(k.toLowerCase(Locale.ROOT), v);
            }
        });
        properties = Map.copyOf(lower);
        body = body == null ? new byte[0] : body;
    }

    public String property(String lowerCaseName) {
        return properties.get(lowerCaseName);
    }

    /**
     * What identifies this request across redeliveries and duplicates: the sender's {@code caravan-idempotency-key}
     * when it set one (the same request sent twice on purpose), else the bus's message id; null when neither exists
     * (such a message is answered, but a duplicate of it is not recognised). Both are the sender's to choose, so the
     * key also names the credential the message carries (a SHA-256 of it) and its operation: a remembered reply is
     * only ever given again to a message that could have asked for it, never to another key's (nor to one with no
     * key, which is refused as any is).
     */
    public String dedupKey() {
        String idempotency = property(IDEMPOTENCY_KEY);
        String id = idempotency != null && !idempotency.isBlank() ? "key:" + idempotency
                : messageId == null || messageId.isBlank() ? null : "id:" + messageId;
        if (id == null) {
            return null;
        }
        String credential = property("authorization") != null ? property("authorization")
                : property(API_KEY) != null ? "Bearer " + property(API_KEY) : "";
        String operation = property(OPERATION) == null ? "" : property(OPERATION).trim().toLowerCase(Locale.ROOT);
        String dialect = property(DIALECT) == null ? "" : property(DIALECT).trim().toLowerCase(Locale.ROOT);
        return bus + ":" + dev.caravan.auth.KeySecrets.sha256Hex(credential.trim() + "\n" + operation + "\n" + dialect)
                + ":" + id;
    }

    @Override
    public String toString() {
        return bus + " message " + messageId; // never the properties (a key) or the body (a prompt)
    }
}
