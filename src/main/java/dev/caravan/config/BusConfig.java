package dev.caravan.config;

import java.time.Duration;

/**
 * {@code bus:} in config/gateway.yaml: the message buses whose request messages go through the same steps as HTTP
 * requests (routes/ingress-bus.camel.yaml). Each bus is on when its block is present; none is needed. Read at start:
 * a reload that changes this block is logged and applied on the next restart.
 *
 * @param jms          a JMS broker (ActiveMQ's OpenWire URL), or null
 * @param amqp         an AMQP 0-9-1 broker (RabbitMQ), or null
 * @param kafka        a Kafka cluster, or null
 * @param maxInFlight  per bus: messages in the pipeline at once; consumers stop taking messages past it
 * @param redeliveries tries again after a transient failure (429, 5xx) before the message is dead-lettered
 * @param dedupTtl     how long a message id's reply is remembered, so a redelivery is answered without a call
 * @param dedupMaxBytes how many bytes of replies the in-process memory keeps (bus.dedupMaxMegabytes; with Redis it
 *                      is the fallback while Redis fails, and Redis itself is bounded by the TTL)
 */
public record BusConfig(Jms jms, Amqp amqp, Kafka kafka, int maxInFlight, int redeliveries, Duration dedupTtl,
                        long dedupMaxBytes) {

    public static final int DEFAULT_MAX_IN_FLIGHT = 64;
    public static final int DEFAULT_REDELIVERIES = 3;
    public static final Duration DEFAULT_DEDUP_TTL = Duration.ofHours(24);
    public static final int DEFAULT_DEDUP_MAX_MEGABYTES = 64;
    public static final String DEFAULT_REQUESTS = "caravan.requests";
    public static final String DEFAULT_REPLIES = "caravan.replies";
    public static final String DEFAULT_DEAD_LETTERS = "caravan.dlq";

    public static final BusConfig NONE = new BusConfig(null, null, null, DEFAULT_MAX_IN_FLIGHT, DEFAULT_REDELIVERIES,
            DEFAULT_DEDUP_TTL, DEFAULT_DEDUP_MAX_MEGABYTES * 1024L * 1024L);

    /** {@code bus.jms}: consumers on {@code requestQueue}, replies to each message's {@code JMSReplyTo}. */
    public record Jms(String url, String username, String password, String requestQueue, String deadLetterQueue,
                      int concurrency) {
        @Override
        public String toString() {
            return "Jms[" + url + ", " + requestQueue + "]"; // never the password
        }
    }

    /** {@code bus.amqp}: consumers on {@code requestQueue}, replies to each message's {@code reply-to}. */
    public record Amqp(String url, String username, String password, String requestQueue, String deadLetterQueue,
                       int concurrency) {
        @Override
        public String toString() {
            return "Amqp[" + url + ", " + requestQueue + "]";
        }
    }

    /**
     * {@code bus.kafka}: requests from {@code requestTopic}, replies to the {@code caravan-reply-topic} or this one.
     *
     * @param client Kafka client settings for the consumers, the reply producer and the health check alike (TLS,
     *               SASL: {@code security.protocol}, {@code sasl.mechanism}, {@code sasl.jaas.config}, ...), secrets
     *               resolved; empty for none
     */
    public record Kafka(String bootstrap, String requestTopic, String replyTopic, String deadLetterTopic, String groupId,
                        int concurrency, java.util.Map<String, String> client) {
        public Kafka {
            client = client == null ? java.util.Map.of() : java.util.Map.copyOf(client);
        }

        @Override
        public String toString() {
            return "Kafka[" + bootstrap + ", " + requestTopic + ", client settings " + client.keySet() + "]"; // no values
        }
    }

    public boolean any() {
        return jms != null || amqp != null || kafka != null;
    }
}
