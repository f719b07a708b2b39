package dev.caravan.transport.bus;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Kafka bus as its users see it: an in-process KRaft broker, a gateway with {@code bus.kafka} on, and Kafka's own
 * producer and consumer on the client side. The upstream is a MockWebServer speaking OpenAI's wire format that
 * counts its calls per prompt and the calls it holds at once (each takes 40 ms); every answer names the call that made
 * it ({@code answer #N}), so a second call would show.
 */
class KafkaBusTest {

    static final String KEY = "sk-kafka-user-0123456789";
    static final String DUP_KEY = "sk-kafka-dup-0123456789";
    static final String REQUESTS = "kt.requests";
    static final String REPLIES = "kt.replies";
    static final String MY_REPLIES = "kt.replies.mine";
    static final String DLQ = "kt.dlq";
    static final String GROUP = "kt-gateway";

    static KafkaBroker broker;
    static Upstream upstream;
    static TestGateway gateway;
    static KafkaProducer<String, byte[]> producer;
    static Collector collector;

    @BeforeAll
    static void start() throws Exception {
        broker = KafkaBroker.start();
        broker.createTopic(REQUESTS, 16);
        broker.createTopic(REPLIES, 1);
        broker.createTopic(MY_REPLIES, 1);
        broker.createTopic(DLQ, 1);
        upstream = new Upstream();
        gateway = TestGateway.start("""
                providers:
                  up: { type: openai-compatible, baseUrl: "%s" }
                  flaky: { type: openai-compatible, baseUrl: "%s" }
                  mock: { type: mock }
                models:
                  - name: gpt-test
                    retries: 0
                    deployments: [ { provider: up, model: up-model, price: { input: 2.0, output: 8.0 } } ]
                  - name: gpt-flaky
                    retries: 0
                    deployments: [ { provider: flaky, model: up-flaky } ]
                  - name: mock-gpt
                    deployments: [ { provider: mock, model: mock-gpt } ]
                keys:
                  - { id: kafka-user, sha256: "%s" }
                  - { id: kafka-dup, sha256: "%s" }
                bus:
                  kafka: { bootstrap: "%s", requestTopic: %s, replyTopic: %s, deadLetterTopic: %s, groupId: %s, concurrency: 12 }
                  maxInFlight: 8
                  redeliveries: 1
                """.formatted(upstream.baseUrl(), upstream.baseUrl(), sha(KEY), sha(DUP_KEY), broker.bootstrap(),
                REQUESTS, REPLIES, DLQ, GROUP));
        producer = new KafkaProducer<>(Map.of("bootstrap.servers", broker.bootstrap(), "acks", "all", "linger.ms", 0),
                new StringSerializer(), new ByteArraySerializer());
        collector = new Collector(broker.bootstrap(), List.of(REPLIES, MY_REPLIES, DLQ));
        // the group has formed and its consumers answer: the first reply
        String id = send("warm-up", chat("warm up"), "caravan-api-key", KEY);
        collector.await(REPLIES, id, 1, Duration.ofSeconds(60));
    }

    @AfterAll
    static void stop() throws Exception {
        if (collector != null) {
            collector.close();
        }
        if (producer != null) {
            producer.close();
        }
        if (gateway != null) {
            gateway.close();
        }
        if (upstream != null) {
            upstream.server.shutdown();
        }
        if (broker != null) {
            broker.close();
        }
    }

    static String sha(String key) {
        return HexFormat.of().formatHex(dev.caravan.auth.KeyAuthenticator.sha256(key));
    }

    static String chat(String prompt) {
        return "{\"model\":\"gpt-test\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}";
    }

    /** Sends one request record (its key, body and headers as name, value pairs); returns its correlation id. */
    static String send(String key, String body, String... headers) throws Exception {
        return sendAsync(key, body, headers).id();
    }

    record Sent(String id, Future<RecordMetadata> ack) {
    }

    static Sent sendAsync(String key, String body, String... headers) {
        ProducerRecord<String, byte[]> record = new ProducerRecord<>(REQUESTS, key, body.getBytes(StandardCharsets.UTF_8));
        String id = null;
        for (int i = 0; i + 1 < headers.length; i += 2) {
            record.headers().add(headers[i], headers[i + 1].getBytes(StandardCharsets.UTF_8));
            if (headers[i].equals(KafkaBus.CORRELATION_ID)) {
                id = headers[i + 1];
            }
        }
        if (id == null) {
            id = key; // no correlation header: the key is the correlation id
        }
        return new Sent(id, producer.send(record));
    }

    static String header(ConsumerRecord<String, byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    static JsonNode json(ConsumerRecord<String, byte[]> r) {
        return Json.parseObjectOrNull(r.value());
    }

    static String text(ConsumerRecord<String, byte[]> r) {
        return new String(r.value(), StandardCharsets.UTF_8);
    }

    @Test
    void aRequestGetsItsReplyOnItsReplyTopicWithItsCorrelationIdKeyAndCaravanHeaders() throws Exception {
        String id = "corr-" + UUID.randomUUID();
        send("order-17", chat("hello over kafka"), "caravan-api-key", KEY, KafkaBus.CORRELATION_ID, id,
                KafkaBus.REPLY_TOPIC, MY_REPLIES);
        ConsumerRecord<String, byte[]> reply = collector.await(MY_REPLIES, id, 1, Duration.ofSeconds(30)).get(0);
        assertThat(reply.key()).isEqualTo("order-17");
        assertThat(header(reply, "caravan-status")).isEqualTo("200");
        assertThat(header(reply, "caravan-request-id")).startsWith("req_");
        assertThat(new BigDecimal(header(reply, "caravan-cost-usd"))).isPositive();
        assertThat(header(reply, "caravan-deployment")).isEqualTo("up-up-model");
        assertThat(header(reply, "caravan-api-key")).as("the key never travels back").isNull();
        assertThat(json(reply).path("object").asText()).isEqualTo("chat.completion");
        assertThat(json(reply).path("choices").get(0).path("message").path("content").asText())
                .startsWith("answer #").endsWith("to: hello over kafka");
        assertThat(upstream.calls("hello over kafka")).isEqualTo(1);
        // Threads: camel-kafka's consumer thread reads the record and waits for the route; the reply is written on
        // the route's own pool (after the spine the route is on the Netty event loop that got the upstream's answer)
        KafkaBus bus = gateway.caravan().context().getRegistry().lookupByNameAndType("bus-kafka", KafkaBus.class);
        System.out.println("Kafka replies written on thread " + bus.lastSenderThread());
        assertThat(bus.lastSenderThread()).contains("bus-kafka-reply");
    }

    @Test
    void withoutAReplyTopicHeaderTheReplyGoesToTheConfiguredTopicCorrelatedByTheKey() throws Exception {
        String key = "k-" + UUID.randomUUID();
        send(key, chat("no reply topic named"), "caravan-api-key", KEY);
        ConsumerRecord<String, byte[]> reply = collector.await(REPLIES, key, 1, Duration.ofSeconds(30)).get(0);
        assertThat(reply.key()).isEqualTo(key);
        assertThat(header(reply, KafkaBus.CORRELATION_ID)).isEqualTo(key);
        assertThat(header(reply, "caravan-status")).isEqualTo("200");
    }

    @Test
    void theHealthCheckSaysKafkaIsUp() {
        HttpResponse<String> ready = gateway.get("/health/ready");
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(Json.parseObjectOrNull(ready.body()).path("checks").path("buses").path("kafka").asText()).isEqualTo("UP");
    }

    @Test
    void twoRequestsWithOneIdempotencyKeyAreOneCallTwoIdenticalRepliesAndOneCharge() throws Exception {
        String first = send("dup-1", chat("charge me once"), "caravan-api-key", DUP_KEY,
                "caravan-idempotency-key", "invoice-42", KafkaBus.CORRELATION_ID, "dup-first");
        String second = send("dup-2", chat("charge me once"), "caravan-api-key", DUP_KEY,
                "caravan-idempotency-key", "invoice-42", KafkaBus.CORRELATION_ID, "dup-second");
        ConsumerRecord<String, byte[]> a = collector.await(REPLIES, first, 1, Duration.ofSeconds(30)).get(0);
        ConsumerRecord<String, byte[]> b = collector.await(REPLIES, second, 1, Duration.ofSeconds(30)).get(0);
        assertThat(text(b)).isEqualTo(text(a));
        // on two partitions, so either may be first: the other waits for it and gets its reply again
        assertThat(java.util.stream.Stream.of(header(a, "caravan-replayed"), header(b, "caravan-replayed")))
                .containsExactlyInAnyOrder(null, "true");
        assertThat(header(b, "caravan-request-id")).isEqualTo(header(a, "caravan-request-id"));
        assertThat(upstream.calls("charge me once")).isEqualTo(1);
        assertCharged("kafka-dup", 1, new BigDecimal(header(a, "caravan-cost-usd")));
        HttpResponse<String> byIngress = gateway.get("/admin/spend?group_by=ingress&key=kafka-dup",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY);
        assertThat(Json.parseObjectOrNull(byIngress.body()).path("data").get(0).path("ingress").asText())
                .as(byIngress.body()).isEqualTo("kafka");
    }

    @Test
    void theSameRecordConsumedAgainIsAnsweredFromMemoryWithoutASecondCall() throws Exception {
        String id = "again-" + UUID.randomUUID();
        Sent sent = sendAsync("again", chat("consume me twice"), "caravan-api-key", KEY, KafkaBus.CORRELATION_ID, id);
        RecordMetadata where = sent.ack().get(10, TimeUnit.SECONDS);
        ConsumerRecord<String, byte[]> first = collector.await(REPLIES, id, 1, Duration.ofSeconds(30)).get(0);
        // a redelivery, as after a crash before the commit: the group's offset moved back to the record
        var routes = gateway.caravan().context().getRouteController();
        routes.stopRoute("bus-kafka");
        try (Admin admin = broker.admin()) {
            admin.alterConsumerGroupOffsets(GROUP, Map.of(new TopicPartition(where.topic(), where.partition()),
                    new OffsetAndMetadata(where.offset()))).all().get(30, TimeUnit.SECONDS);
        }
        routes.startRoute("bus-kafka");
        List<ConsumerRecord<String, byte[]>> both = collector.await(REPLIES, id, 2, Duration.ofSeconds(60));
        assertThat(text(both.get(1))).isEqualTo(text(first));
        assertThat(header(both.get(1), "caravan-replayed")).isEqualTo("true");
        assertThat(upstream.calls("consume me twice")).isEqualTo(1);
    }

    @Test
    void malformedJsonGetsA400ReplyInOpenAisShapeWithNoStackTrace() throws Exception {
        String id = send("bad-" + UUID.randomUUID(), "{not json", "caravan-api-key", KEY);
        ConsumerRecord<String, byte[]> reply = collector.await(REPLIES, id, 1, Duration.ofSeconds(30)).get(0);
        assertThat(header(reply, "caravan-status")).isEqualTo("400");
        assertThat(json(reply).path("error").path("code").asText()).isEqualTo("invalid_json");
        assertThat(json(reply).path("error").path("message").asText()).isNotBlank();
        assertThat(text(reply)).doesNotContain("at dev.caravan").doesNotContain("Exception");
    }

    @Test
    void anUnknownKeyGetsA401ReplyAndNoCall() throws Exception {
        String id = send("unauth-" + UUID.randomUUID(), chat("who am i"), "caravan-api-key", "sk-not-a-key-000000");
        ConsumerRecord<String, byte[]> reply = collector.await(REPLIES, id, 1, Duration.ofSeconds(30)).get(0);
        assertThat(header(reply, "caravan-status")).isEqualTo("401");
        assertThat(json(reply).path("error").path("type").asText()).isNotBlank();
        assertThat(text(reply)).doesNotContain("sk-not-a-key");
        assertThat(upstream.calls("who am i")).isZero();
    }

    @Test
    void aCallThatKeepsFailingGetsItsErrorReplyAndADeadLetterWithTheReasonAndNoKey() throws Exception {
        String body = "{\"model\":\"gpt-flaky\",\"messages\":[{\"role\":\"user\",\"content\":\"FAIL please\"}]}";
        String id = send("fail-" + UUID.randomUUID(), body, "caravan-api-key", KEY, "x-trace", "t-1");
        ConsumerRecord<String, byte[]> reply = collector.await(REPLIES, id, 1, Duration.ofSeconds(30)).get(0);
        assertThat(Integer.parseInt(header(reply, "caravan-status"))).isGreaterThanOrEqualTo(500);
        assertThat(json(reply).path("error").path("message").asText()).isNotBlank();
        ConsumerRecord<String, byte[]> dead = collector.await(DLQ, id, 1, Duration.ofSeconds(30)).get(0);
        assertThat(header(dead, "caravan-dead-letter-reason")).endsWith("after 2 attempts"); // redeliveries: 1
        assertThat(header(dead, "caravan-status")).isEqualTo(header(reply, "caravan-status"));
        assertThat(Json.parseObjectOrNull(header(dead, "caravan-error")).path("error").path("message").asText()).isNotBlank();
        assertThat(header(dead, "caravan-original-message-id")).matches(REQUESTS + "-\\d+@\\d+");
        assertThat(text(dead)).isEqualTo(body);
        assertThat(header(dead, "x-trace")).as("the original headers").isEqualTo("t-1");
        assertThat(header(dead, "caravan-api-key")).as("never the key").isNull();
        assertThat(upstream.calls("FAIL please")).isEqualTo(2);
    }

    @Test
    void aReplyTopicThatCannotBeWrittenDeadLettersTheRequestAndTheNextOneIsAnswered() throws Exception {
        String key = "same-partition-" + UUID.randomUUID();
        String bad = send(key, chat("reply to nowhere"), "caravan-api-key", KEY, KafkaBus.CORRELATION_ID, "bad-" + key,
                KafkaBus.REPLY_TOPIC, "no such topic!");
        String next = send(key, chat("after the bad one"), "caravan-api-key", KEY, KafkaBus.CORRELATION_ID, "next-" + key);
        ConsumerRecord<String, byte[]> dead = collector.await(DLQ, bad, 1, Duration.ofSeconds(30)).get(0);
        assertThat(header(dead, "caravan-dead-letter-reason")).isEqualTo("invalid_reply_topic");
        assertThat(header(dead, "caravan-status")).isEqualTo("200");
        assertThat(header(collector.await(REPLIES, next, 1, Duration.ofSeconds(30)).get(0), "caravan-status"))
                .isEqualTo("200");
    }

    @Test
    void aThousandRequestsAreAllAnsweredWithNeverMoreThanEightCallsAtOnce() throws Exception {
        upstream.maxConcurrent.set(0);
        List<Sent> sent = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            String id = "load-" + i + "-" + UUID.randomUUID();
            sent.add(sendAsync(id, chat("load " + i), "caravan-api-key", KEY));
        }
        producer.flush();
        Set<String> ids = sent.stream().map(Sent::id).collect(Collectors.toSet());
        List<ConsumerRecord<String, byte[]>> replies = collector.awaitAll(REPLIES, ids, Duration.ofSeconds(90));
        assertThat(replies).hasSize(1000);
        assertThat(replies).allSatisfy(r -> assertThat(header(r, "caravan-status")).isEqualTo("200"));
        // 12 consumers would make 12 calls at once; the bound holds them to 8 (and the load gets near it)
        assertThat(upstream.maxConcurrent.get()).as("upstream calls at once (bus.maxInFlight 8, 12 consumers)")
                .isLessThanOrEqualTo(8).isGreaterThanOrEqualTo(6);
    }

    @Test
    void aChunkedStreamIsOneReplyRecordPerEventInOrderTheLastMarked() throws Exception {
        String id = send("chunks-" + UUID.randomUUID(),
                "{\"model\":\"mock-gpt\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"tell me in pieces\"}]}",
                "caravan-api-key", KEY, "caravan-stream", "chunks");
        List<ConsumerRecord<String, byte[]>> parts = collector.awaitUntil(REPLIES, id,
                list -> list.stream().anyMatch(r -> "true".equals(header(r, "caravan-last"))), Duration.ofSeconds(30));
        assertThat(parts.size()).isGreaterThan(1);
        for (int i = 0; i < parts.size(); i++) {
            assertThat(header(parts.get(i), "caravan-sequence")).isEqualTo(Integer.toString(i));
            assertThat(header(parts.get(i), "caravan-last")).isEqualTo(i == parts.size() - 1 ? "true" : null);
            assertThat(header(parts.get(i), "caravan-status")).isEqualTo("200");
        }
        assertThat(json(parts.get(0)).path("object").asText()).isEqualTo("chat.completion.chunk");
    }

    @Test
    void anEditOfTheBusRoutesFileLeavesTheKafkaBusAnswering() throws Exception {
        java.nio.file.Path file = gateway.routesDir().resolve("ingress-bus.camel.yaml");
        double before = gateway.metric("caravan_config_reload_total{kind=\"routes\",result=\"success\"}");
        java.nio.file.Files.writeString(file, java.nio.file.Files.readString(file) + "\n# edited by a test\n");
        TestGateway.eventually(() -> gateway.metric("caravan_config_reload_total{kind=\"routes\",result=\"success\"}")
                > before, "the routes file is reloaded");
        String id = send("after-reload-" + UUID.randomUUID(), chat("after a reload"), "caravan-api-key", KEY);
        assertThat(header(collector.await(REPLIES, id, 1, Duration.ofSeconds(30)).get(0), "caravan-status")).isEqualTo("200");
        assertThat(gateway.caravan().context().getRoute("bus-kafka")).isNotNull();
    }

    /** README's client snippet ("Message buses", Kafka), as written there but for the names of this test's topics. */
    @Test
    void theReadmeClientSnippetGetsItsAnswer() throws Exception {
        String bootstrap = broker.bootstrap();
        String answer = null;
        // --- from README
        try (var producer = new KafkaProducer<>(Map.<String, Object>of("bootstrap.servers", bootstrap),
                new StringSerializer(), new StringSerializer());
             var consumer = new KafkaConsumer<>(Map.<String, Object>of("bootstrap.servers", bootstrap,
                     "group.id", "my-app-replies", "auto.offset.reset", "latest"),
                     new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(MY_REPLIES));
            while (consumer.assignment().isEmpty()) {     // joined: a reply sent from now on is read
                consumer.poll(Duration.ofMillis(100));
            }
            consumer.assignment().forEach(consumer::position);
            String id = UUID.randomUUID().toString();
            ProducerRecord<String, String> request = new ProducerRecord<>(REQUESTS, id,
                    "{\"model\":\"gpt-test\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello from the README\"}]}");
            request.headers().add("caravan-api-key", KEY.getBytes(StandardCharsets.UTF_8));
            request.headers().add("caravan-correlation-id", id.getBytes(StandardCharsets.UTF_8));
            request.headers().add("caravan-reply-topic", MY_REPLIES.getBytes(StandardCharsets.UTF_8));
            producer.send(request).get();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (answer == null && System.nanoTime() < end) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    Header c = r.headers().lastHeader("caravan-correlation-id");
                    if (c != null && id.equals(new String(c.value(), StandardCharsets.UTF_8))) {
                        String status = new String(r.headers().lastHeader("caravan-status").value(), StandardCharsets.UTF_8);
                        answer = status + " " + r.value();     // 200 {"id":"chatcmpl-…","object":"chat.completion",…}
                    }
                }
            }
        }
        // --- end
        assertThat(answer).startsWith("200 {").contains("Hello from the README");
    }

    /** The spend ledger (through the admin API) holds {@code requests} rows for {@code keyId}, costing {@code usd}. */
    static void assertCharged(String keyId, int requests, BigDecimal usd) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        JsonNode total;
        do {
            HttpResponse<String> r = gateway.get("/admin/spend?group_by=key&key=" + keyId,
                    "Authorization", "Bearer " + TestGateway.MASTER_KEY);
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            total = Json.parseObjectOrNull(r.body()).path("total");
            if (total.path("requests").asInt() >= requests) {
                break;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        Thread.sleep(500); // a second charge, had there been one, would be written by now too
        HttpResponse<String> r = gateway.get("/admin/spend?group_by=key&key=" + keyId,
                "Authorization", "Bearer " + TestGateway.MASTER_KEY);
        total = Json.parseObjectOrNull(r.body()).path("total");
        assertThat(total.path("requests").asInt()).as(r.body()).isEqualTo(requests);
        assertThat(total.path("cost_usd").decimalValue()).isEqualByComparingTo(usd);
    }

    /** Every record of some topics, from their beginning, read by Kafka's own consumer on a thread of its own. */
    static final class Collector implements AutoCloseable {
        private final List<ConsumerRecord<String, byte[]>> records = new CopyOnWriteArrayList<>();
        private final Thread thread;
        private volatile boolean running = true;

        Collector(String bootstrap, List<String> topics) {
            KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of("bootstrap.servers", bootstrap,
                    "auto.offset.reset", "earliest", "enable.auto.commit", false), new StringDeserializer(),
                    new ByteArrayDeserializer());
            consumer.assign(topics.stream().map(t -> new TopicPartition(t, 0)).toList());
            thread = new Thread(() -> {
                try (consumer) {
                    while (running) {
                        consumer.poll(Duration.ofMillis(50)).forEach(records::add);
                    }
                }
            }, "test-kafka-collector");
            thread.setDaemon(true);
            thread.start();
        }

        /** Every record read so far from {@code topic}. */
        List<ConsumerRecord<String, byte[]>> records(String topic) {
            return records.stream().filter(r -> r.topic().equals(topic)).toList();
        }

        int count(String topic) {
            return records(topic).size();
        }

        private List<ConsumerRecord<String, byte[]>> of(String topic, String correlationId) {
            return records.stream().filter(r -> r.topic().equals(topic)
                    && correlationId.equals(header(r, KafkaBus.CORRELATION_ID))).toList();
        }

        List<ConsumerRecord<String, byte[]>> await(String topic, String correlationId, int n, Duration timeout)
                throws InterruptedException {
            return awaitUntil(topic, correlationId, list -> list.size() >= n, timeout);
        }

        List<ConsumerRecord<String, byte[]>> awaitUntil(String topic, String correlationId,
                                                        Predicate<List<ConsumerRecord<String, byte[]>>> done,
                                                        Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                List<ConsumerRecord<String, byte[]>> found = of(topic, correlationId);
                if (done.test(found)) {
                    return found;
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("within " + timeout.toSeconds() + " s " + found.size() + " record(s) on "
                            + topic + " for " + correlationId);
                }
                Thread.sleep(20);
            }
        }

        /** The records on {@code topic} once there is one for each of {@code ids} (replays included). */
        List<ConsumerRecord<String, byte[]>> awaitAll(String topic, Set<String> ids, Duration timeout)
                throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                List<ConsumerRecord<String, byte[]>> found = records.stream().filter(r -> r.topic().equals(topic)
                        && ids.contains(header(r, KafkaBus.CORRELATION_ID))).toList();
                long distinct = found.stream().map(r -> header(r, KafkaBus.CORRELATION_ID)).distinct().count();
                if (distinct >= ids.size() || System.nanoTime() > deadline) {
                    assertThat(distinct).as("requests answered within " + timeout.toSeconds() + " s").isEqualTo(ids.size());
                    return found;
                }
                Thread.sleep(50);
            }
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            thread.join(5_000);
        }
    }

    /**
     * OpenAI's chat completions on a MockWebServer: each call takes 40 ms, is counted by its prompt, and answers
     * {@code answer #N to: <prompt>}; a prompt with {@code FAIL} gets a 500.
     */
    static final class Upstream {
        final MockWebServer server = new MockWebServer();
        final AtomicInteger calls = new AtomicInteger();
        final AtomicInteger inFlight = new AtomicInteger();
        final AtomicInteger maxConcurrent = new AtomicInteger();
        final Map<String, AtomicInteger> byPrompt = new ConcurrentHashMap<>();

        Upstream() throws Exception {
            server.setDispatcher(new Dispatcher() {
                @Override
                public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
                    int now = inFlight.incrementAndGet();
                    maxConcurrent.accumulateAndGet(now, Math::max);
                    try {
                        Thread.sleep(40);
                        return answer(request);
                    } finally {
                        inFlight.decrementAndGet();
                    }
                }
            });
            server.start();
        }

        String baseUrl() {
            return server.url("/v1").toString();
        }

        int calls(String prompt) {
            AtomicInteger n = byPrompt.get(prompt);
            return n == null ? 0 : n.get();
        }

        private MockResponse answer(RecordedRequest request) {
            int n = calls.incrementAndGet();
            JsonNode body = Json.parseObjectOrNull(request.getBody().readUtf8());
            JsonNode messages = body.path("messages");
            String prompt = messages.get(messages.size() - 1).path("content").asText();
            byPrompt.computeIfAbsent(prompt, p -> new AtomicInteger()).incrementAndGet();
            if (prompt.contains("FAIL")) {
                return new MockResponse().setResponseCode(500).setHeader("Content-Type", "application/json")
                        .setBody("{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}");
            }
            return new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                    {"id":"chatcmpl-up%d","object":"chat.completion","created":1700000000,"model":"up-model",
                     "choices":[{"index":0,"message":{"role":"assistant","content":"answer #%d to: %s"},"finish_reason":"stop"}],
                     "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}""".formatted(n, n, prompt));
        }
    }
}
