package dev.caravan.transport.bus;

import dev.caravan.GatewayProcess;
import dev.caravan.auth.KeyAuthenticator;
import dev.caravan.core.Json;
import jakarta.jms.Connection;
import jakarta.jms.DeliveryMode;
import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Queue;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The packaged gateway (bin/caravan) consuming JMS with its reply memory in Redis, SIGKILLed in the middle of a batch
 * and started again: every request message ends with one reply or one dead letter, and none is charged twice. The
 * broker, the upstream (counting calls per prompt), Redis and PostgreSQL (one ledger for both processes) outlive it.
 */
class JmsGatewayKilledIT {

    static final String KEY = "sk-jms-it";
    static final int ANSWERED = 190;    // with a reply destination: each gets a reply
    static final int DEAD = 10;         // without one: each is dead-lettered

    @Test
    void aGatewayKilledMidBatchAndRestartedRepliesOrDeadLettersEachMessageOnceAndChargesNoneTwice(@TempDir Path dir)
            throws Exception {
        Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
        MockWebServer upstream = new MockWebServer();
        upstream.setDispatcher(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
                String prompt = Json.parseObjectOrNull(request.getBody().readUtf8()).path("messages").get(0)
                        .path("content").asText();
                calls.computeIfAbsent(prompt, p -> new AtomicInteger()).incrementAndGet();
                Thread.sleep(20); // calls in flight when the gateway dies
                return new MockResponse().setHeader("content-type", "application/json").setBody("""
                        {"id":"chatcmpl-%s","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,
                         "message":{"role":"assistant","content":"answer to %s"},"finish_reason":"stop"}],
                         "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"""
                        .formatted(java.util.UUID.randomUUID(), prompt));
            }
        });
        upstream.start();
        String db = "caravan_it_jms_" + Long.toHexString(System.nanoTime());
        sql("jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres", "CREATE DATABASE " + db);
        String jdbc = "jdbc:postgresql://127.0.0.1:5432/" + db + "?user=postgres";
        // a prefix of its own: other runs on the same Redis never see these replies or claims
        Path properties = dir.resolve("application.properties");
        Files.writeString(properties, Files.readString(Path.of("config/application.properties"))
                + "\ncaravan.redisPrefix = caravan-it-jms-" + Long.toHexString(System.nanoTime()) + ":"
                + "\ncaravan.ledger.flushInterval = 20ms\ncaravan.bus.jms.recoveryInterval = 200\n");
        try (EmbeddedActiveMq broker = EmbeddedActiveMq.start(0)) {
            String config = """
                    providers:
                      up: { type: openai, baseUrl: "%s" }
                    models:
                      - name: priced
                        deployments: [ { id: priced, provider: up, model: m, price: { input: 1000, output: 1000 } } ]
                    keys:
                      - { id: jms-it, sha256: "%s" }
                    bus:
                      jms: { url: "%s", concurrency: 8 }
                      maxInFlight: 8
                    """.formatted(upstream.url("/v1"), HexFormat.of().formatHex(KeyAuthenticator.sha256(KEY)), broker.url());
            Map<String, String> env = Map.of("CARAVAN_REDIS_URL", "redis://127.0.0.1:6379", "CARAVAN_DB_URL", jdbc,
                    "CARAVAN_PROPERTIES", properties.toString());

            Map<String, List<TextMessage>> replies = new ConcurrentHashMap<>();
            try (Connection client = broker.connect()) {
                Session listening = client.createSession(false, Session.AUTO_ACKNOWLEDGE);
                Queue replyQueue = listening.createQueue("it.replies");
                MessageConsumer consumer = listening.createConsumer(replyQueue);
                consumer.setMessageListener(m -> {
                    try {
                        replies.computeIfAbsent(m.getJMSCorrelationID(), c -> new CopyOnWriteArrayList<>()).add((TextMessage) m);
                    } catch (JMSException e) {
                        throw new IllegalStateException(e);
                    }
                });

                GatewayProcess first = GatewayProcess.start(dir, "first", config, env);
                Session sending = client.createSession(false, Session.AUTO_ACKNOWLEDGE);
                try (MessageProducer producer = sending.createProducer(sending.createQueue("caravan.requests"))) {
                    producer.setDeliveryMode(DeliveryMode.PERSISTENT);
                    for (int i = 0; i < ANSWERED + DEAD; i++) {
                        TextMessage m = sending.createTextMessage(
                                "{\"model\":\"priced\",\"messages\":[{\"role\":\"user\",\"content\":\"batch " + i + "\"}]}");
                        m.setStringProperty("caravan_api_key", KEY);
                        m.setIntProperty("it_index", i);
                        if (i < ANSWERED) {
                            m.setJMSReplyTo(replyQueue);
                            m.setJMSCorrelationID("it-" + i);
                        }
                        producer.send(m);
                    }
                }
                await(() -> replies.size() >= 40, 60_000, "40 replies before the kill");
                first.kill(); // mid-batch: calls in flight, messages unacknowledged
                Set<String> repliedBeforeKill = Set.copyOf(replies.keySet());
                int beforeRestart = repliedBeforeKill.size();
                assertThat(beforeRestart).as("the kill left work to do").isLessThan(ANSWERED);

                try (GatewayProcess second = GatewayProcess.start(dir, "second", config, env)) {
                    await(() -> replies.size() >= ANSWERED, 90_000, "a reply to every message with a reply destination");
                    Thread.sleep(1500); // a second reply to any message, had there been one, would have come by now
                    List<Message> dead = broker.receive(sending, "caravan.dlq", DEAD);

                    // every message with a reply destination: replies that all carry the same answer, of which at
                    // most one is not a replay (a redelivery answered from the memory is marked caravan_replayed
                    // and counts as the same reply); in practice exactly one each, as replies commit with the ack
                    int extra = 0;
                    for (int i = 0; i < ANSWERED; i++) {
                        List<TextMessage> got = replies.get("it-" + i);
                        assertThat(got).as("replies to it-" + i).isNotEmpty();
                        assertThat(got.stream().map(JmsGatewayKilledIT::text).distinct()).as("it-" + i).hasSize(1);
                        assertThat(got.stream().filter(r -> !"true".equals(property(r, "caravan_replayed"))))
                                .as("it-" + i).hasSizeLessThanOrEqualTo(1);
                        assertThat(property(got.get(0), "caravan_status")).isEqualTo("200");
                        assertThat(Json.parseObjectOrNull(text(got.get(0))).path("choices").get(0).path("message")
                                .path("content").asText()).isEqualTo("answer to batch " + i);
                        extra += got.size() - 1;
                    }
                    assertThat(extra).as("second replies").isZero();
                    // every message without one: one dead letter each
                    Set<Integer> deadIndexes = new HashSet<>();
                    for (Message m : dead) {
                        deadIndexes.add(m.getIntProperty("it_index"));
                        assertThat(m.getStringProperty("caravan_dead_letter_reason")).isEqualTo("no_reply_destination");
                    }
                    assertThat(deadIndexes).hasSize(DEAD).allMatch(i -> i >= ANSWERED);

                    // upstream: at most one call per message, except those whose call was in flight at the kill (the
                    // killed gateway never had their answer): at most maxInFlight of them, called once more
                    long twice = calls.values().stream().filter(c -> c.get() > 1).count();
                    assertThat(calls.values()).allMatch(c -> c.get() <= 2);
                    assertThat(twice).as("calls repeated after the kill").isLessThanOrEqualTo(8);
                    calls.forEach((prompt, n) -> assertThat(n.get() == 1 || !repliedBeforeKill.contains(
                            "it-" + prompt.substring("batch ".length()))).as("%s was answered, then called again", prompt).isTrue());
                    assertThat(calls.keySet()).allMatch(p -> Integer.parseInt(p.substring("batch ".length())) < ANSWERED);

                    // charges: every ledger row belongs to a reply the client got, so no message was charged twice
                    Set<String> repliedIds = new HashSet<>();
                    replies.values().forEach(l -> l.forEach(r -> repliedIds.add(property(r, "caravan_request_id"))));
                    await(() -> chargedIds(jdbc).size() >= ANSWERED - 8, 10_000, "the ledger rows");
                    Set<String> charged = chargedIds(jdbc);
                    assertThat(charged).as("charged requests").hasSizeLessThanOrEqualTo(ANSWERED);
                    assertThat(repliedIds).containsAll(charged);
                    long replayed = replies.values().stream().flatMap(List::stream)
                            .filter(r -> "true".equals(property(r, "caravan_replayed"))).count();
                    System.out.printf("JmsGatewayKilledIT: %d replies before the kill, %d calls repeated, %d replays,"
                            + " %d charged%n", beforeRestart, twice, replayed, charged.size());
                }
            } finally {
                sql("jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres", "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
                upstream.shutdown();
            }
        }
    }

    static String text(TextMessage m) {
        try {
            return m.getText();
        } catch (JMSException e) {
            throw new IllegalStateException(e);
        }
    }

    static String property(Message m, String name) {
        try {
            return m.getStringProperty(name);
        } catch (JMSException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The request ids of the key's charged (answered) requests in the shared ledger. */
    static Set<String> chargedIds(String jdbc) {
        Set<String> ids = new HashSet<>();
        try (var c = DriverManager.getConnection(jdbc);
             var s = c.prepareStatement("SELECT request_id FROM spend_ledger WHERE key_id = ? AND status = 200 AND cost_nanos > 0")) {
            s.setString(1, "jms-it");
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getString(1));
                }
            }
        } catch (Exception e) {
            return ids; // the table may not exist yet
        }
        return ids;
    }

    static void sql(String url, String statement) throws Exception {
        try (var c = DriverManager.getConnection(url); var s = c.createStatement()) {
            s.execute(statement);
        }
    }

    static void await(java.util.function.BooleanSupplier condition, long millis, String what) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("waited " + millis + " ms for: " + what);
            }
            Thread.sleep(50);
        }
    }

}
