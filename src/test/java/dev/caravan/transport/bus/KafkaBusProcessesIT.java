package dev.caravan.transport.bus;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.GatewayProcess;
import dev.caravan.core.Json;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What only real processes show (failsafe, after package; the jar via bin/caravan): a gateway killed with SIGKILL in
 * the middle of 200 Kafka requests, and another started on the same group, the same Redis reply memory and the same
 * upstream. Every request ends with one reply (a redelivered request answered again from the reply memory, marked
 * {@code caravan-replayed: true} with the same body and request id, is the same reply) and no dead letter; no request
 * is called twice except one whose call was in flight when the first gateway died (its answer died with it), and no
 * request is charged twice (each ledger row is a different request's reply).
 */
class KafkaBusProcessesIT {

    static final int MESSAGES = 200;
    static final String KEY = "sk-kafka-it-0123456789";

    @Test
    void aGatewayKilledMidBatchAndRestartedLeavesEveryRequestOneReplyAndNoneChargedTwice(@TempDir Path dir) throws Exception {
        String run = "kit-" + UUID.randomUUID().toString().substring(0, 8);
        Map<String, Long> killedAt = new ConcurrentHashMap<>();
        Map<String, List<Long>> callsByPrompt = new ConcurrentHashMap<>();
        AtomicInteger calls = new AtomicInteger();
        MockWebServer upstream = new MockWebServer();
        upstream.setDispatcher(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
                int n = calls.incrementAndGet();
                JsonNode body = Json.parseObjectOrNull(request.getBody().readUtf8());
                String prompt = body.path("messages").get(0).path("content").asText();
                callsByPrompt.computeIfAbsent(prompt, p -> new java.util.concurrent.CopyOnWriteArrayList<>())
                        .add(System.nanoTime());
                Thread.sleep(80);
                return new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                        {"id":"chatcmpl-%d","object":"chat.completion","created":1700000000,"model":"up-model",
                         "choices":[{"index":0,"message":{"role":"assistant","content":"answer #%d to %s"},"finish_reason":"stop"}],
                         "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}""".formatted(n, n, prompt));
            }
        });
        upstream.start();
        try (KafkaBroker broker = KafkaBroker.start()) {
            String requests = run + ".requests";
            String replies = run + ".replies";
            String dlq = run + ".dlq";
            broker.createTopic(requests, 8);
            broker.createTopic(replies, 1);
            broker.createTopic(dlq, 1);
            String yaml = """
                    providers:
                      up: { type: openai-compatible, baseUrl: "%s" }
                    models:
                      - name: gpt-test
                        retries: 0
                        deployments: [ { provider: up, model: up-model, price: { input: 2.0, output: 8.0 } } ]
                    keys:
                      - { id: it, sha256: "%s" }
                    bus:
                      kafka: { bootstrap: "%s", requestTopic: %s, replyTopic: %s, deadLetterTopic: %s, groupId: %s, concurrency: 8 }
                      maxInFlight: 8
                    """.formatted(upstream.url("/v1"), KafkaBusTest.sha(KEY), broker.bootstrap(), requests, replies, dlq, run);
            // a Redis prefix of this run's own; a killed consumer leaves the group within 6 s, not 45
            Map<String, String> env = Map.of("CARAVAN_REDIS_URL", "redis://127.0.0.1:6379",
                    "JAVA_OPTS", "-XX:+UseSerialGC -Xmx256m -Dcaravan.redisPrefix=" + run + ": "
                            + "-Dcaravan.bus.kafka.sessionTimeoutMs=6000");
            try (KafkaBusTest.Collector collector = new KafkaBusTest.Collector(broker.bootstrap(), List.of(replies, dlq));
                 KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers", broker.bootstrap(),
                         "acks", "all"), new StringSerializer(), new ByteArraySerializer())) {
                GatewayProcess first = GatewayProcess.start(dir, "first", yaml, env);
                awaitKafkaUp(first);
                Set<String> ids = new HashSet<>();
                for (int i = 0; i < MESSAGES; i++) {
                    String id = run + "-m" + i;
                    ids.add(id);
                    ProducerRecord<String, byte[]> record = new ProducerRecord<>(requests, id, ("{\"model\":\"gpt-test\","
                            + "\"messages\":[{\"role\":\"user\",\"content\":\"" + id + "\"}]}").getBytes(StandardCharsets.UTF_8));
                    record.headers().add("caravan-api-key", KEY.getBytes(StandardCharsets.UTF_8));
                    producer.send(record);
                }
                producer.flush();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (collector.count(replies) < MESSAGES / 4 && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                int answeredBeforeKill = collector.count(replies);
                first.kill(); // SIGKILL: no drain, no commit, no ledger flush
                killedAt.put("first", System.nanoTime()); // once it is gone: a call it began is older than this
                assertThat(first.isAlive()).isFalse();
                assertThat(answeredBeforeKill).as("killed mid-batch").isBetween(MESSAGES / 4, MESSAGES - 1);

                try (GatewayProcess second = GatewayProcess.start(dir, "second", yaml, env)) {
                    List<ConsumerRecord<String, byte[]>> all = collector.awaitAll(replies, ids, Duration.ofSeconds(120));
                    Thread.sleep(1_000); // a second reply for one of them, had there been one, has arrived by now
                    all = collector.records(replies);

                    // every request has one reply: its replays carry the same body and request id
                    Map<String, List<ConsumerRecord<String, byte[]>>> byId = all.stream()
                            .collect(Collectors.groupingBy(r -> KafkaBusTest.header(r, KafkaBus.CORRELATION_ID)));
                    assertThat(byId.keySet()).containsExactlyInAnyOrderElementsOf(ids);
                    Map<String, String> requestIdOf = new HashMap<>();
                    int replayed = 0;
                    for (Map.Entry<String, List<ConsumerRecord<String, byte[]>>> e : byId.entrySet()) {
                        List<ConsumerRecord<String, byte[]>> rs = e.getValue();
                        assertThat(rs.stream().map(KafkaBusTest::text).distinct()).as(e.getKey()).hasSize(1);
                        assertThat(rs.stream().map(r -> KafkaBusTest.header(r, "caravan-request-id")).distinct())
                                .as(e.getKey()).hasSize(1);
                        assertThat(rs.stream().filter(r -> KafkaBusTest.header(r, "caravan-replayed") == null))
                                .as("one first reply for " + e.getKey()).hasSizeLessThanOrEqualTo(1);
                        assertThat(rs).allSatisfy(r -> assertThat(KafkaBusTest.header(r, "caravan-status")).isEqualTo("200"));
                        replayed += rs.size() - 1;
                        requestIdOf.put(KafkaBusTest.header(rs.get(0), "caravan-request-id"), e.getKey());
                    }
                    assertThat(collector.records(dlq)).as("no dead letter").isEmpty();

                    // called once each, but for a call in flight at the kill (its answer died with the gateway)
                    long kill = killedAt.get("first");
                    int again = 0;
                    for (String id : ids) {
                        List<Long> at = callsByPrompt.getOrDefault(id, List.of());
                        assertThat(at.size()).as("upstream calls for " + id).isBetween(1, 2);
                        if (at.size() == 2) {
                            assertThat(at.get(0)).as("the first call of " + id + " was in flight at the kill").isLessThan(kill);
                            assertThat(at.get(1)).isGreaterThan(kill);
                            again++;
                        }
                    }
                    assertThat(again).as("calls in flight at the kill (bus.maxInFlight 8)").isLessThanOrEqualTo(8);
                    assertThat(calls.get()).isLessThanOrEqualTo(MESSAGES + 8);

                    // charged once each: every ledger row (both gateways') is the reply of a request of its own
                    second.terminate();
                    Set<String> charged = new HashSet<>();
                    for (String name : List.of("first", "second")) {
                        for (String requestId : ledger(dir.resolve(name + "-data"))) {
                            assertThat(requestIdOf).as("a charge is the reply of a request").containsKey(requestId);
                            assertThat(charged.add(requestIdOf.get(requestId))).as("charged twice: " + requestIdOf.get(requestId))
                                    .isTrue();
                        }
                    }
                    assertThat(charged.size()).as("charges").isLessThanOrEqualTo(MESSAGES);
                    System.out.printf("kafka kill test: %d answered before the kill, %d replays, %d calls again, %d charges "
                            + "(the killed gateway's unflushed ledger rows are lost with it)%n", answeredBeforeKill, replayed,
                            again, charged.size());
                }
            }
        } finally {
            upstream.shutdown();
            redisDelete(run + ":*");
        }
    }

    private static void awaitKafkaUp(GatewayProcess gateway) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            JsonNode ready = Json.parseObjectOrNull(gateway.get("/health/ready").body());
            if ("UP".equals(ready.path("checks").path("buses").path("kafka").asText())) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("kafka not up within 30 s: " + java.nio.file.Files.readString(gateway.log()));
    }

    /** The request ids of a gateway's spend ledger (its H2 file, after the process ended). */
    private static List<String> ledger(Path data) throws Exception {
        List<String> ids = new ArrayList<>();
        if (!java.nio.file.Files.exists(data.resolve("caravan.mv.db"))) {
            return ids;
        }
        String jdbc = "jdbc:h2:file:" + data.toAbsolutePath().resolve("caravan") + ";USER=sa";
        try (Connection c = DriverManager.getConnection(jdbc);
             ResultSet rs = c.createStatement().executeQuery("SELECT request_id FROM spend_ledger WHERE key_id = 'it'")) {
            while (rs.next()) {
                ids.add(rs.getString(1));
            }
        }
        return ids;
    }

    private static void redisDelete(String pattern) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", "redis-cli -h 127.0.0.1 --scan --pattern '" + pattern
                + "' | xargs -r redis-cli -h 127.0.0.1 DEL").redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        p.waitFor(10, TimeUnit.SECONDS);
    }
}
