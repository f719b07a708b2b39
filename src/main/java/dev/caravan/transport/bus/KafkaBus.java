package dev.caravan.transport.bus;

import dev.caravan.config.BusConfig;
import dev.caravan.core.ExchangeKeys;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.component.kafka.KafkaConstants;
import org.apache.camel.component.kafka.consumer.DefaultKafkaManualCommitFactory;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The Kafka bus (template {@code bus-kafka} in routes/ingress-bus.camel.yaml): camel-kafka consumers in group
 * {@code bus.kafka.groupId} on {@code bus.kafka.requestTopic}. Each record is read into a {@link BusMessage} (its
 * message id {@code topic-partition@offset}, the same on every redelivery; its headers are its properties), and its
 * reply parts go to the topic its {@code caravan-reply-topic} header names, else {@code bus.kafka.replyTopic}, with
 * its {@code caravan-correlation-id} header (else its key) and its key; its dead letter to
 * {@code bus.kafka.deadLetterTopic}. Both are acknowledged by the broker ({@code acks=all}) before the route ends; only
 * then does the consumer's own thread record the record's offset and commit it (camel-kafka's sync commit manager,
 * at the end of each partition's records of a poll). A record whose reply cannot be written (no such topic, too
 * large) is dead-lettered instead, so one bad record never stops its partition; when neither can be written (the
 * broker is down) the route fails and camel-kafka seeks back to the record ({@code breakOnFirstError}) to try again.
 * <p>
 * Nothing here waits for the broker at start: the consumers, the producer and the health check each connect in the
 * background and retry with backoff while HTTP serves; {@link #up()} reads a cached describeCluster.
 */
public final class KafkaBus implements BusAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaBus.class);

    /** The record as it was consumed, kept beside the exchange: the spine replaces the Camel message. */
    static final String RECORD = "busKafka.record";
    /** A request's header naming its reply topic; without it the reply goes to {@code bus.kafka.replyTopic}. */
    public static final String REPLY_TOPIC = "caravan-reply-topic";
    /** A request's and its reply's correlation id header (a request without one is correlated by its key). */
    public static final String CORRELATION_ID = "caravan-correlation-id";
    /** On a dead letter: the error body the reply carried (OpenAI's error shape). */
    public static final String ERROR = "caravan-error";
    /** On a dead letter: the request's own message id, {@code topic-partition@offset}. */
    public static final String ORIGINAL_MESSAGE_ID = "caravan-original-message-id";
    /** Never copied to a dead letter: whoever reads the dead-letter topic does not get the sender's key. */
    private static final Pattern TOPIC = Pattern.compile("[A-Za-z0-9._-]{1,249}");

    private volatile BusConfig.Kafka kafka;
    private volatile boolean up;
    private boolean checked;
    private boolean topicSeen;
    private boolean topicMissingSaid;
    private volatile Producer<String, byte[]> producer;
    private volatile String lastSender;
    private volatile int reconnectMaxMs = 10_000;
    private Admin admin;
    private ScheduledExecutorService health;

    @Override
    public String name() {
        return "kafka";
    }

    @Override
    public boolean configured(BusConfig bus) {
        return bus.kafka() != null;
    }

    @Override
    public Map<String, Object> prepare(CamelContext context, BusConfig bus) {
        kafka = bus.kafka();
        context.getRegistry().bind("bus-kafka", this);
        // camel-kafka's sync commit manager: offsets committed by the consumer's own thread after each record's route
        // ended (with no factory it would commit nothing unless the route did, from whatever thread it is on)
        context.getRegistry().bind("bus-kafka-commits", new DefaultKafkaManualCommitFactory());
        // bus.kafka.client (TLS, SASL) for the consumers, as camel-kafka's additionalProperties
        context.getRegistry().bind("bus-kafka-client", new java.util.HashMap<String, Object>(kafka.client()));
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("bootstrap", kafka.bootstrap());
        parameters.put("requestTopic", kafka.requestTopic());
        parameters.put("groupId", kafka.groupId());
        parameters.put("concurrency", kafka.concurrency());
        parameters.put("maxPollRecords", intProperty(context, "caravan.bus.kafka.maxPollRecords", 10));
        parameters.put("maxPollIntervalMs", intProperty(context, "caravan.bus.kafka.maxPollIntervalMs", 600_000));
        parameters.put("sessionTimeoutMs", intProperty(context, "caravan.bus.kafka.sessionTimeoutMs", 45_000));
        reconnectMaxMs = intProperty(context, "caravan.bus.kafka.reconnectBackoffMaxMs", 10_000);
        parameters.put("reconnectBackoffMaxMs", reconnectMaxMs);
        long every = intProperty(context, "caravan.bus.kafka.healthInterval", 5_000);
        health = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "bus-kafka-health");
            t.setDaemon(true);
            return t;
        });
        health.scheduleWithFixedDelay(this::check, 0, every, TimeUnit.MILLISECONDS);
        LOG.info("Kafka bus: requests from {} at {} (group {}, {} consumer(s))", kafka.requestTopic(), kafka.bootstrap(),
                kafka.groupId(), kafka.concurrency());
        return parameters;
    }

    private static int intProperty(CamelContext context, String key, int fallback) {
        return context.getPropertiesComponent().resolveProperty(key).map(v -> Integer.parseInt(v.trim())).orElse(fallback);
    }

    /** Whether the cluster answered the last describeCluster (every few seconds, on this adapter's own thread). */
    @Override
    public boolean up() {
        return up;
    }

    private void check() {
        boolean now;
        try {
            if (admin == null) {
                admin = Admin.create(clientProperties(Map.of(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 3_000,
                        AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 3_000)));
            }
            now = !admin.describeCluster(new DescribeClusterOptions().timeoutMs(3_000)).nodes()
                    .get(4, TimeUnit.SECONDS).isEmpty();
            if (now && !topicSeen) {
                topicSeen = admin.listTopics().names().get(4, TimeUnit.SECONDS).contains(kafka.requestTopic());
                if (!topicSeen && !topicMissingSaid) {
                    LOG.warn("Kafka topic {} does not exist: its consumers wait for it (create it, or let the broker "
                            + "create topics)", kafka.requestTopic());
                    topicMissingSaid = true;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        } catch (Exception e) {
            now = false; // unresolvable, refused, timed out: the consumers keep trying on their own
        }
        if (now != up || !checked) {
            if (now) {
                LOG.info("Kafka at {} answers: the bus is up", kafka.bootstrap());
            } else {
                LOG.warn("Kafka at {} does not answer: its consumers retry in the background while HTTP serves",
                        kafka.bootstrap());
            }
        }
        up = now;
        checked = true;
    }

    private Map<String, Object> clientProperties(Map<String, Object> extra) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("bootstrap.servers", kafka.bootstrap());
        p.put("reconnect.backoff.max.ms", reconnectMaxMs); // a broker that is down: a reconnect every 10 s at most
        p.putAll(kafka.client()); // TLS, SASL: the same settings as the consumers'
        p.putAll(extra);
        return p;
    }

    /**
     * First step of the route, on the consumer's own thread: the record as a {@link BusMessage} (property
     * {@code caravan.busMessage}); its headers are its properties (the last one of a name wins), its value the body.
     * The Camel headers camel-kafka copied from the record are dropped: the key travels in one of them.
     */
    public void read(Exchange exchange) {
        Message in = exchange.getIn();
        Headers headers = in.getHeader(KafkaConstants.HEADERS, Headers.class);
        List<Header> copied = new ArrayList<>();
        Map<String, String> properties = new LinkedHashMap<>();
        if (headers != null) {
            for (Header h : headers) {
                copied.add(new RecordHeader(h.key(), h.value()));
                if (h.key() != null && h.value() != null) {
                    properties.put(h.key(), new String(h.value(), StandardCharsets.UTF_8));
                }
            }
        }
        byte[] body = in.getBody(byte[].class);
        Request request = new Request(in.getHeader(KafkaConstants.TOPIC, String.class),
                in.getHeader(KafkaConstants.PARTITION, 0, Integer.class), in.getHeader(KafkaConstants.OFFSET, 0L, Long.class),
                in.getHeader(KafkaConstants.KEY, String.class), List.copyOf(copied), body == null ? new byte[0] : body);
        exchange.setProperty(RECORD, request);
        // a Kafka request always has somewhere to reply: its caravan-reply-topic, else bus.kafka.replyTopic
        exchange.setProperty(ExchangeKeys.BUS_MESSAGE, new BusMessage(name(), request.messageId(), properties,
                request.value(), true));
        in.removeHeaders("*");
    }

    /**
     * Last step of the route (on the route's {@code bus-kafka-reply} threads, never a Netty event loop nor the
     * consumer's thread, which waits for the route to end): the reply's parts in order, then the dead letter when
     * there is one, each acknowledged by the broker before this returns. A reply that cannot be written is
     * dead-lettered instead; when that fails too this throws, and the record is consumed again.
     */
    public void send(Exchange exchange) throws Exception {
        BusReply reply = exchange.getProperty(ExchangeKeys.BUS_REPLY, BusReply.class);
        Request request = exchange.getProperty(RECORD, Request.class);
        String correlation = request.correlationId();
        String replyTopic = request.replyTopic(kafka.replyTopic());
        if (lastSender == null) {
            LOG.debug("Kafka replies are sent on thread {}", Thread.currentThread().getName());
        }
        lastSender = Thread.currentThread().getName();
        String notSent = null;
        if (!TOPIC.matcher(replyTopic).matches() || replyTopic.equals(kafka.requestTopic())) {
            notSent = "invalid_reply_topic";
        } else {
            try {
                List<Future<RecordMetadata>> acks = new ArrayList<>();
                for (BusReply.Part part : reply.parts()) {
                    RecordHeaders h = new RecordHeaders();
                    part.properties().forEach((k, v) -> add(h, k, v));
                    add(h, CORRELATION_ID, correlation);
                    // the same key as the request: every part of one reply on one partition, in order
                    acks.add(producer().send(new ProducerRecord<>(replyTopic, null, request.replyKey(), part.body(), h)));
                }
                for (Future<RecordMetadata> ack : acks) {
                    ack.get();
                }
            } catch (ExecutionException e) {
                notSent = "reply_not_sent (" + e.getCause().getClass().getSimpleName() + ")";
            } catch (org.apache.kafka.common.KafkaException e) {
                notSent = "reply_not_sent (" + e.getClass().getSimpleName() + ")";
            }
        }
        if (notSent != null) {
            LOG.warn("Kafka message {}: its reply could not be written to topic {} ({}); it goes to {}",
                    request.messageId(), TOPIC.matcher(replyTopic).matches() ? replyTopic : "(not a topic name)",
                    notSent, kafka.deadLetterTopic()); // a name that is no topic's is never written to the log
            deadLetter(exchange, request, reply, notSent, notSentError(notSent));
        } else if (reply.deadLetter() != null) {
            deadLetter(exchange, request, reply, reply.deadLetter(), reply.body());
        }
    }

    /** The original request (value and headers as sent, less the key) with why, the status and the error body. */
    private void deadLetter(Exchange exchange, Request request, BusReply reply, String reason, byte[] error)
            throws Exception {
        byte[] original = BusDoor.originalBody(exchange);
        RecordHeaders h = new RecordHeaders();
        for (Header header : request.headers()) {
            if (header.key() != null && !BusMessage.CREDENTIALS.contains(header.key().toLowerCase(Locale.ROOT))) {
                h.add(header);
            }
        }
        add(h, BusReply.REASON, reason);
        add(h, BusReply.STATUS, Integer.toString(reply.status()));
        add(h, BusReply.REQUEST_ID, reply.properties().get(BusReply.REQUEST_ID));
        add(h, ERROR, new String(error, StandardCharsets.UTF_8));
        add(h, ORIGINAL_MESSAGE_ID, request.messageId());
        if (request.header(CORRELATION_ID) == null) {
            add(h, CORRELATION_ID, request.correlationId());
        }
        try {
            producer().send(new ProducerRecord<>(kafka.deadLetterTopic(), null, request.key(),
                    original != null ? original : request.value(), h)).get();
        } catch (ExecutionException | org.apache.kafka.common.KafkaException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            LOG.warn("Kafka message {}: its dead letter could not be written to topic {} ({}); it is consumed again",
                    request.messageId(), kafka.deadLetterTopic(), cause.getClass().getSimpleName());
            // a pause before camel-kafka seeks back, so an error that fails at once does not spin
            Thread.sleep(1_000);
            throw new NotAnswered(request.messageId(), cause);
        }
    }

    /** What a dead letter says when the reply itself could not be written: an error in OpenAI's shape. */
    private static byte[] notSentError(String reason) {
        com.fasterxml.jackson.databind.node.ObjectNode root = dev.caravan.core.Json.object();
        root.putObject("error").put("message", "The reply could not be written to its topic: " + reason + ".")
                .put("type", "bus_error").put("code", reason.startsWith("invalid") ? reason : "reply_not_sent");
        return dev.caravan.core.Json.bytes(root);
    }

    private static void add(Headers headers, String key, String value) {
        if (value != null) {
            headers.add(key, value.getBytes(StandardCharsets.UTF_8));
        }
    }

    /** One producer for every reply and dead letter (thread-safe), created at the first send, not at start. */
    private Producer<String, byte[]> producer() {
        Producer<String, byte[]> p = producer;
        if (p == null) {
            synchronized (this) {
                p = producer;
                if (p == null) {
                    p = new KafkaProducer<>(clientProperties(Map.of(
                            ProducerConfig.ACKS_CONFIG, "all",
                            ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                            ProducerConfig.LINGER_MS_CONFIG, 1,
                            ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4",
                            // a reply waits at most this long for its topic's metadata, then at most 30 s in all
                            ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000,
                            ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000,
                            ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000)),
                            new StringSerializer(), new ByteArraySerializer());
                    producer = p;
                }
            }
        }
        return p;
    }

    /** The thread that sent the last reply (the route's {@code bus-kafka-reply} pool), for tests. */
    String lastSenderThread() {
        return lastSender;
    }

    @Override
    public void close() {
        if (health != null) {
            health.shutdownNow();
        }
        Producer<String, byte[]> p = producer;
        if (p != null) {
            p.close(Duration.ofSeconds(5));
        }
        if (admin != null) {
            admin.close(Duration.ofSeconds(2));
        }
    }

    /** Neither the reply nor the dead letter reached the broker: the record is consumed again. No stack trace. */
    static final class NotAnswered extends RuntimeException {
        NotAnswered(String messageId, Throwable cause) {
            super("kafka message " + messageId + " not answered: " + cause.getClass().getSimpleName(), null, false, false);
        }
    }

    /** A consumed record: where it came from, its key, headers and value. */
    record Request(String topic, int partition, long offset, String key, List<Header> headers, byte[] value) {

        /** Kafka's id of the record, the same on every redelivery. */
        String messageId() {
            return topic + "-" + partition + "@" + offset;
        }

        /** The last value of header {@code name} (any case), or null. */
        String header(String name) {
            String found = null;
            for (Header h : headers) {
                if (h.key() != null && h.key().equalsIgnoreCase(name) && h.value() != null) {
                    found = new String(h.value(), StandardCharsets.UTF_8);
                }
            }
            return found == null || found.isBlank() ? null : found.trim();
        }

        /** The {@code caravan-correlation-id} header, else the key, else the message id. */
        String correlationId() {
            String id = header(CORRELATION_ID);
            return id != null ? id : key != null ? key : messageId();
        }

        /** The reply's key: the request's own, else its correlation id. */
        String replyKey() {
            return key != null ? key : correlationId();
        }

        String replyTopic(String configured) {
            String named = header(REPLY_TOPIC);
            return named != null ? named : configured;
        }
    }
}
