package dev.caravan.transport.bus;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.caravan.transport.bus.AmqpFixtures.chat;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The AMQP bus against the RabbitMQ on this machine, through the stock RabbitMQ Java client: the classic RPC
 * pattern (an exclusive reply queue, and direct reply-to), duplicates, refusals and dead letters, a flood under
 * {@code maxInFlight}, a chunked stream. The upstream is an OpenAI-compatible server that counts its calls.
 */
class AmqpBusTest {

    static final String KEY = "sk-amqp-bus-user";
    static final String DUP_KEY = "sk-amqp-bus-dup";
    static final String REQUESTS = AmqpFixtures.uniqueQueue("requests");
    static final String DEAD = AmqpFixtures.uniqueQueue("dlq");

    static AmqpFixtures.Upstream upstream;
    static TestGateway gateway;
    static Connection client;
    static Channel admin;
    static final ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logs =
            new ch.qos.logback.core.read.ListAppender<>();

    @BeforeAll
    static void start() throws Exception {
        client = AmqpFixtures.connect(); // fails here when RabbitMQ is not running
        logs.start();
        root().addAppender(logs);
        admin = client.createChannel();
        upstream = new AmqpFixtures.Upstream(15);
        gateway = TestGateway.start("""
                providers:
                  up: { type: openai, baseUrl: "%s" }
                models:
                  - name: up
                    deployments: [ { provider: up, model: up-model, price: { input: 1000, output: 1000 } } ]
                keys:
                  - { id: amqp-user, sha256: "%s" }
                  - { id: amqp-dup, sha256: "%s", cache: { exact: false } }  # its duplicates meet the reply memory alone
                cache:
                  exact: { ttl: 10m }
                bus:
                  amqp: { url: "amqp://%s:%d", username: guest, requestQueue: %s, deadLetterQueue: %s, concurrency: 16 }
                  maxInFlight: 8
                  redeliveries: 1
                """.formatted(upstream.baseUrl(), AmqpFixtures.sha(KEY), AmqpFixtures.sha(DUP_KEY),
                AmqpFixtures.HOST, AmqpFixtures.PORT, REQUESTS, DEAD));
        TestGateway.eventually(() -> ready().path("checks").path("buses").path("amqp").asText().equals("UP"),
                "the amqp bus is up");
    }

    private static ch.qos.logback.classic.Logger root() {
        return (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    }

    @AfterAll
    static void stop() throws Exception {
        root().detachAppender(logs);
        try {
            if (gateway != null) {
                gateway.close();
            }
        } finally {
            if (admin != null) {
                admin.queueDelete(REQUESTS);
                admin.queueDelete(DEAD);
            }
            if (client != null) {
                client.close();
            }
            if (upstream != null) {
                upstream.close();
            }
        }
    }

    private static JsonNode ready() {
        return Json.parseObjectOrNull(gateway.get("/health/ready").body());
    }

    private static String id() {
        return UUID.randomUUID().toString();
    }

    @Test
    void bothQueuesAreDeclaredDurableWhenMissing() throws Exception {
        try (Channel c = client.createChannel()) {
            assertThat(c.queueDeclarePassive(REQUESTS).getConsumerCount()).isEqualTo(16);
            c.queueDeclarePassive(DEAD);
        }
        // a durable queue survives a broker restart; rabbitmqctl shows it, the client cannot ask: declaring it again
        // as durable succeeds only if it is durable (else PRECONDITION_FAILED closes the channel)
        try (Channel c = client.createChannel()) {
            c.queueDeclare(DEAD, true, false, false, null);
        }
    }

    @Test
    void aRequestGetsItsReplyOnItsExclusiveQueueWithTheCorrelationIdAndCaravanHeaders() throws Exception {
        try (AmqpFixtures.RpcClient rpc = new AmqpFixtures.RpcClient(client)) {
            String correlation = id();
            rpc.send(REQUESTS, id(), correlation, chat("hello over amqp"), "caravan-api-key", KEY);
            AmqpFixtures.Delivery reply = rpc.await(correlation);
            assertThat(reply.properties().getCorrelationId()).isEqualTo(correlation);
            assertThat(reply.properties().getContentType()).isEqualTo("application/json");
            assertThat(reply.header("caravan-status")).isEqualTo("200");
            assertThat(reply.header("caravan-request-id")).startsWith("req_");
            assertThat(reply.header("caravan-cost-usd")).isEqualTo("0.015");
            assertThat(reply.header("caravan-cache")).isEqualTo("MISS");
            assertThat(reply.json().path("object").asText()).isEqualTo("chat.completion");
            assertThat(reply.json().path("choices").get(0).path("message").path("content").asText())
                    .endsWith("to: hello over amqp");
        }
    }

    @Test
    void directReplyToWorksWithTheStockClient() throws Exception {
        try (AmqpFixtures.RpcClient rpc = new AmqpFixtures.RpcClient(client, true)) {
            String correlation = id();
            rpc.send(REQUESTS, id(), correlation, chat("direct reply-to"), "Authorization", "Bearer " + KEY);
            AmqpFixtures.Delivery reply = rpc.await(correlation);
            assertThat(reply.header("caravan-status")).isEqualTo("200");
            assertThat(reply.json().path("choices").get(0).path("message").path("content").asText())
                    .endsWith("to: direct reply-to");
        }
    }

    @Test
    void withoutACorrelationIdTheReplyCarriesTheMessageId() throws Exception {
        try (AmqpFixtures.RpcClient rpc = new AmqpFixtures.RpcClient(client)) {
            String messageId = id();
            rpc.send(REQUESTS, messageId, null, chat("no correlation id"), "caravan-api-key", KEY);
            assertThat(rpc.await(messageId).header("caravan-status")).isEqualTo("200");
        }
    }

    @Test
    void theSameMessageDeliveredTwiceIsCalledOnceAnsweredTwiceAndChargedOnce() throws Exception {
        try (AmqpFixtures.RpcClient rpc = new AmqpFixtures.RpcClient(client)) {
            String messageId = id();
            String prompt = "twice " + messageId;
            rpc.send(REQUESTS, messageId, "first", chat(prompt), "caravan-api-key", DUP_KEY);
            rpc.send(REQUESTS, messageId, "second", chat(prompt), "caravan-api-key", DUP_KEY);
            AmqpFixtures.Delivery first = rpc.await("first");
            AmqpFixtures.Delivery second = rpc.await("second");
            assertThat(upstream.callsFor(prompt)).isEqualTo(1);
            assertThat(second.text()).isEqualTo(first.text()); // the upstream's answer names its call: one call
            assertThat(java.util.Arrays.asList(first.header("caravan-replayed"), second.header("caravan-replayed")))
                    .containsExactlyInAnyOrder(null, "true");
            assertThat(second.header("caravan-request-id")).isEqualTo(first.header("caravan-request-id"));

            // and the same with an idempotency key on two different messages
            String again = "idempotent " + messageId;
            rpc.send(REQUESTS, id(), "third", chat(again), "caravan-api-key", DUP_KEY, "caravan-idempotency-key", again);
            AmqpFixtures.Delivery third = rpc.await("third");
            rpc.send(REQUESTS, id(), "fourth", chat(again), "caravan-api-key", DUP_KEY, "caravan-idempotency-key", again);
            assertThat(rpc.await("fourth").text()).isEqualTo(third.text());
            assertThat(upstream.callsFor(again)).isEqualTo(1);
        }
        // one charge per request: the ledger has two requests of this key, 0.015 USD each
        TestGateway.eventually(() -> spendOf("amqp-dup").path("requests").asInt() >= 2, "the ledger has the calls");
        Thread.sleep(300); // a second charge would land in the same batch or the next
        JsonNode spend = spendOf("amqp-dup");
        assertThat(spend.path("requests").asInt()).isEqualTo(2);
        assertThat(spend.path("cost_usd").decimalValue()).isEqualByComparingTo(new BigDecimal("0.030"));
    }

    private static JsonNode spendOf(String keyId) {
        HttpResponse<String> r = gateway.get("/admin/spend?group_by=key", "Authorization", "Bearer " + TestGateway.MASTER_KEY);
        for (JsonNode g : Json.parseObjectOrNull(r.body()).path("data")) {
            if (keyId.equals(g.path("key").asText())) {
                return g;
            }
        }
        return Json.object();
    }

    @Test
    void aMalformedMessageAndAnUnauthorisedOneGetErrorRepliesInOpenAisShape() throws Exception {
        try (AmqpFixtures.RpcClient rpc = new AmqpFixtures.RpcClient(client)) {
            rpc.send(REQUESTS, id(), "bad", "{not json", "caravan-api-key", KEY);
            rpc.send(REQUESTS, id(), "nokey", chat("who am I"));
            rpc.send(REQUESTS, id(), "wrongkey", chat("who am I"), "caravan-api-key", "sk-not-a-key");
            AmqpFixtures.Delivery bad = rpc.await("bad");
            assertThat(bad.header("caravan-status")).isEqualTo("400");
            assertThat(bad.json().path("error").path("code").asText()).isEqualTo("invalid_json");
            assertThat(bad.text()).doesNotContain("Exception").doesNotContain("\tat ");
            for (String c : List.of("nokey", "wrongkey")) {
                AmqpFixtures.Delivery denied = rpc.await(c);
                assertThat(denied.header("caravan-status")).isEqualTo("401");
                assertThat(denied.json().path("error").path("message").asText()).isNotBlank();
                assertThat(denied.json().path("error").path("type").asText()).isNotBlank();
            }
        }
        assertThat(upstream.callsFor("who am I")).isZero();
    }

    @Test
    void aMessageWithNoReplyToIsDeadLetteredWithItsReasonStatusAndHeadersButNotItsKey() throws Exception {
        String messageId = id();
        String body = chat("nobody listens");
        admin.basicPublish("", REQUESTS, new com.rabbitmq.client.AMQP.BasicProperties.Builder()
                .contentType("application/json").messageId(messageId).correlationId("c-" + messageId)
                .headers(Map.of("caravan-api-key", KEY, "x-order", "42")).build(), body.getBytes());
        AmqpFixtures.Delivery dead = AmqpFixtures.take(admin, DEAD);
        assertThat(dead.text()).isEqualTo(body);
        assertThat(dead.properties().getMessageId()).isEqualTo(messageId);
        assertThat(dead.properties().getCorrelationId()).isEqualTo("c-" + messageId);
        assertThat(dead.properties().getDeliveryMode()).isEqualTo(2);
        assertThat(dead.header("caravan-dead-letter-reason")).isEqualTo("no_reply_destination");
        assertThat(dead.header("caravan-status")).isEqualTo("400");
        assertThat(dead.header("x-order")).isEqualTo("42");
        assertThat(dead.header("caravan-api-key")).isNull();
        assertThat(Json.parseObjectOrNull(dead.header("caravan-error")).path("error").path("code").asText())
                .isEqualTo("no_reply_destination");
        assertThat(upstream.callsFor("nobody listens")).isZero();

        // a malformed message with nowhere to reply: the same
        admin.basicPublish("", REQUESTS, new com.rabbitmq.client.AMQP.BasicProperties.Builder().messageId(id())
                .headers(Map.of("caravan-api-key", KEY)).build(), "{not json".getBytes());
        AmqpFixtures.Delivery malformed = AmqpFixtures.take(admin, DEAD);
        assertThat(malformed.text()).isEqualTo("{not json");
        assertThat(malformed.header("caravan-dead-letter-reason")).isNotBlank();
        assertThat(malformed.header("caravan-status")).isEqualTo("400");
    }

    @Test
    void aReplyTheBrokerRefusesIsDeadLetteredNotRedeliveredForEver() throws Exception {
        String messageId = id();
        // reply-to as exchange/routing-key, naming an exchange that does not exist: the broker closes the channel
        admin.basicPublish("", REQUESTS, new com.rabbitmq.client.AMQP.BasicProperties.Builder()
                .contentType("application/json").messageId(messageId).replyTo("caravan-no-such-exchange/" + messageId)
                .headers(Map.of("caravan-api-key", KEY)).build(), chat("refused reply " + messageId).getBytes());
        AmqpFixtures.Delivery dead = AmqpFixtures.take(admin, DEAD);
        assertThat(dead.properties().getMessageId()).isEqualTo(messageId);
        assertThat(dead.header("caravan-dead-letter-reason")).isEqualTo("reply_failed");
        assertThat(dead.header("caravan-status")).isEqualTo("200"); // the answer was there; its destination was not
        Thread.sleep(300);
        assertThat(admin.queueDeclarePassive(REQUESTS).getMessageCount()).isZero();
        assertThat(upstream.callsFor("refused reply " + messageId)).isEqualTo(1);
        assertThat(ready().path("checks").path("buses").path("amqp").asText()).isEqualTo("UP"); // one channel closed, not the bus
    }

    @Test
    void aThousandMessagesAreAllAnsweredWithNeverMoreThanMaxInFlightUpstreamCallsAtOnce() throws Exception {
        upstream.reset();
        int n = 1000;
        try (AmqpFixtures.RpcClient rpc = new AmqpFixtures.RpcClient(client)) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String c = "flood-" + i;
                ids.add(c);
                rpc.send(REQUESTS, id(), c, chat("flood " + i), "caravan-api-key", KEY);
            }
            long deadline = System.currentTimeMillis() + 60_000;
            while (rpc.received.get() < n && System.currentTimeMillis() < deadline) {
                Thread.sleep(50);
            }
            assertThat(rpc.received.get()).isEqualTo(n);
            for (String c : ids) {
                assertThat(rpc.all(c)).hasSize(1);
                assertThat(rpc.all(c).get(0).header("caravan-status")).isEqualTo("200");
            }
        }
        assertThat(upstream.most.get()).isLessThanOrEqualTo(8).isGreaterThanOrEqualTo(4);
    }

    @Test
    void aStreamAskedInChunksComesAsOrderedMessagesWithASequenceAndALastMarker() throws Exception {
        try (AmqpFixtures.RpcClient rpc = new AmqpFixtures.RpcClient(client)) {
            rpc.send(REQUESTS, id(), "chunks", """
                    {"model":"up","stream":true,"messages":[{"role":"user","content":"stream me please"}]}""",
                    "caravan-api-key", KEY, "caravan-stream", "chunks");
            List<AmqpFixtures.Delivery> parts = new ArrayList<>();
            do {
                parts.add(rpc.await("chunks"));
            } while (parts.get(parts.size() - 1).header("caravan-last") == null);
            StringBuilder text = new StringBuilder();
            for (int i = 0; i < parts.size(); i++) {
                AmqpFixtures.Delivery part = parts.get(i);
                assertThat(part.header("caravan-sequence")).isEqualTo(Integer.toString(i));
                assertThat(part.header("caravan-status")).isEqualTo("200");
                JsonNode chunk = part.json();
                assertThat(chunk.path("object").asText()).isEqualTo("chat.completion.chunk");
                chunk.path("choices").forEach(c -> text.append(c.path("delta").path("content").asText("")));
            }
            assertThat(parts.size()).isGreaterThan(2);
            assertThat(text.toString()).contains("to: stream me please");
        }
    }

    @Test
    void theLogShowsNeitherTheKeyNorThePrompt() throws Exception {
        String prompt = "secret-plan-" + id();
        try (AmqpFixtures.RpcClient rpc = new AmqpFixtures.RpcClient(client)) {
            rpc.send(REQUESTS, id(), "log-1", chat(prompt), "caravan-api-key", KEY);
            rpc.send(REQUESTS, id(), "log-2", "{\"broken\": \"" + prompt, "caravan-api-key", KEY);
            rpc.send(REQUESTS, id(), "log-3", chat(prompt), "caravan-api-key", KEY + "-wrong");
            rpc.await("log-1");
            rpc.await("log-2");
            rpc.await("log-3");
        }
        List<String> lines;
        synchronized (logs) {
            lines = logs.list.stream().map(e -> e.getFormattedMessage()
                    + (e.getThrowableProxy() == null ? "" : " " + e.getThrowableProxy().getMessage())).toList();
        }
        assertThat(lines).isNotEmpty().noneMatch(l -> l.contains(KEY)).noneMatch(l -> l.contains(prompt));
    }

    @Test
    void anEditOfTheBusRoutesFileLeavesTheBusAnswering() throws Exception {
        java.nio.file.Path file = gateway.routesDir().resolve("ingress-bus.camel.yaml");
        double before = gateway.metric("caravan_config_reload_total{kind=\"routes\",result=\"success\"}");
        java.nio.file.Files.writeString(file, java.nio.file.Files.readString(file) + "\n# edited by a test\n");
        TestGateway.eventually(() -> gateway.metric("caravan_config_reload_total{kind=\"routes\",result=\"success\"}") > before,
                "the routes file is reloaded");
        try (AmqpFixtures.RpcClient rpc = new AmqpFixtures.RpcClient(client)) {
            rpc.send(REQUESTS, id(), "after-reload", chat("after a reload"), "caravan-api-key", KEY);
            assertThat(rpc.await("after-reload").header("caravan-status")).isEqualTo("200");
        }
        assertThat(gateway.caravan().context().getRoute("bus-amqp")).isNotNull();
    }

    @Test
    void repliesAreNeverPublishedFromAnEventLoopThread() throws Exception {
        try (AmqpFixtures.RpcClient rpc = new AmqpFixtures.RpcClient(client)) {
            rpc.send(REQUESTS, id(), "thread", chat("which thread"), "caravan-api-key", KEY);
            rpc.await("thread");
        }
        AmqpBus bus = gateway.caravan().context().getRegistry().lookupByNameAndType("bus-amqp", AmqpBus.class);
        java.util.Set<String> threads = bus.sendThreads();
        System.out.println("AMQP replies were published on: " + new java.util.TreeSet<>(threads));
        assertThat(threads).isNotEmpty().noneMatch(t -> t.startsWith("caravan-io"));
    }
}
