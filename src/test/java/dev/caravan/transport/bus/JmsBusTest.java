package dev.caravan.transport.bus;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.TestGateway;
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
import jakarta.jms.TemporaryQueue;
import jakarta.jms.TextMessage;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The JMS bus as a system sending requests over JMS sees it: a real ActiveMQ broker in this JVM, the stock JMS client
 * (jakarta.jms from activemq-client, no Camel) on the sending side, a gateway consuming {@code caravan.requests}, and
 * an OpenAI-shaped upstream that counts its calls (and how many run at once).
 */
class JmsBusTest {

    static final String KEY = "sk-jms-user";
    static final String DUP_KEY = "sk-jms-dup";
    static final String REDELIVERED_KEY = "sk-jms-redelivered";
    static final java.util.concurrent.atomic.AtomicBoolean refuseNextCommit = new java.util.concurrent.atomic.AtomicBoolean();
    static final String PASSWORD = "broker-pw-" + java.util.UUID.randomUUID();

    static EmbeddedActiveMq broker;
    static MockWebServer upstream;
    static TestGateway gateway;
    static Path passwordFile;
    static Connection client;
    static Session session;
    static final ListAppender<ILoggingEvent> logs = new ListAppender<>();

    static final Map<String, AtomicInteger> callsByPrompt = new ConcurrentHashMap<>();
    static final AtomicInteger calls = new AtomicInteger();
    static final AtomicInteger running = new AtomicInteger();
    static final AtomicInteger mostAtOnce = new AtomicInteger();

    static final String ANSWER = """
            {"id":"chatcmpl-%s","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,
             "message":{"role":"assistant","content":"answer to %s"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}""";

    @BeforeAll
    static void start() throws Exception {
        logs.start();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
        broker = EmbeddedActiveMq.start(0, refuseNextCommit);
        upstream = new MockWebServer();
        upstream.setDispatcher(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
                int now = running.incrementAndGet();
                mostAtOnce.accumulateAndGet(now, Math::max);
                try {
                    calls.incrementAndGet();
                    JsonNode body = Json.parseObjectOrNull(request.getBody().readUtf8());
                    String prompt = body.path("messages").get(0).path("content").asText();
                    callsByPrompt.computeIfAbsent(prompt, p -> new AtomicInteger()).incrementAndGet();
                    Thread.sleep(5); // long enough for calls to overlap
                    return new MockResponse().setHeader("content-type", "application/json")
                            .setBody(ANSWER.formatted(java.util.UUID.randomUUID(), prompt));
                } finally {
                    running.decrementAndGet();
                }
            }
        });
        upstream.start();
        passwordFile = Files.createTempFile("jms-password", ".txt");
        Files.writeString(passwordFile, PASSWORD);
        gateway = TestGateway.start("""
                providers:
                  up: { type: openai, baseUrl: "%s" }
                  mock: { type: mock }
                models:
                  - name: priced
                    deployments: [ { id: priced, provider: up, model: m, price: { input: 1000, output: 1000 } } ]
                  - name: mock-gpt
                    deployments: [ { provider: mock, model: mock-gpt } ]
                keys:
                  - { id: jms-user, sha256: "%s" }
                  - { id: jms-dup, sha256: "%s" }
                  - { id: jms-redelivered, sha256: "%s" }
                bus:
                  jms: { url: "%s", username: caravan, password: "${file:%s}", requestQueue: caravan.requests,
                         deadLetterQueue: caravan.dlq, concurrency: 16 }
                  maxInFlight: 8
                """.formatted(upstream.url("/v1"), sha(KEY), sha(DUP_KEY), sha(REDELIVERED_KEY), broker.url(), passwordFile),
                Map.of("caravan.ledger.flushInterval", "20ms"));
        client = broker.connect();
        session = client.createSession(false, Session.AUTO_ACKNOWLEDGE);
        TestGateway.eventually(() -> gateway.get("/health/ready").body().contains("\"jms\":\"UP\""), "the JMS bus up");
    }

    @AfterAll
    static void stop() throws Exception {
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
        if (client != null) {
            client.close();
        }
        gateway.close();
        broker.close();
        upstream.shutdown();
        Files.deleteIfExists(passwordFile);
    }

    static String sha(String key) {
        return HexFormat.of().formatHex(KeyAuthenticator.sha256(key));
    }

    static String chat(String prompt) {
        return "{\"model\":\"priced\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}";
    }

    /** A request as the stock client sends it: a text message, properties in JMS's spelling. */
    static TextMessage request(String body, jakarta.jms.Destination replyTo, String... properties) throws JMSException {
        TextMessage m = session.createTextMessage(body);
        m.setJMSReplyTo(replyTo);
        for (int i = 0; i < properties.length; i += 2) {
            m.setStringProperty(properties[i], properties[i + 1]);
        }
        return m;
    }

    static void send(Message m) throws JMSException {
        try (MessageProducer producer = session.createProducer(session.createQueue("caravan.requests"))) {
            producer.send(m);
        }
    }

    static TextMessage receive(MessageConsumer consumer) throws JMSException {
        Message m = consumer.receive(15_000);
        assertThat(m).as("a reply within 15 s").isInstanceOf(TextMessage.class);
        return (TextMessage) m;
    }

    static JsonNode json(TextMessage m) throws JMSException {
        JsonNode node = Json.parseObjectOrNull(m.getText());
        assertThat(node).as("JSON: %s", m.getText()).isNotNull();
        return node;
    }

    @Test
    void aRequestGetsItsReplyWithItsCorrelationIdAndTheCaravanProperties() throws Exception {
        TemporaryQueue replies = session.createTemporaryQueue();
        try (MessageConsumer consumer = session.createConsumer(replies)) {
            TextMessage m = request(chat("hello over jms"), replies, "caravan_api_key", KEY);
            m.setJMSCorrelationID("order-4711");
            send(m);

            TextMessage reply = receive(consumer);
            assertThat(reply.getJMSCorrelationID()).isEqualTo("order-4711");
            assertThat(reply.getStringProperty("caravan_status")).isEqualTo("200");
            assertThat(reply.getIntProperty("caravan_status")).isEqualTo(200);
            assertThat(reply.getStringProperty("caravan_request_id")).startsWith("req_");
            assertThat(new BigDecimal(reply.getStringProperty("caravan_cost_usd"))).isPositive();
            assertThat(reply.getStringProperty("caravan_deployment")).isEqualTo("priced");
            JsonNode answer = json(reply);
            assertThat(answer.path("object").asText()).isEqualTo("chat.completion");
            assertThat(answer.path("choices").get(0).path("message").path("content").asText())
                    .isEqualTo("answer to hello over jms");
        } finally {
            replies.delete();
        }
        // in the books as a JMS request (the ledger's writer appends off the request path, within its flush interval)
        TestGateway.eventually(() -> Json.parseObjectOrNull(gateway.get("/admin/spend?group_by=ingress",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY).body()).path("data").findValuesAsText("ingress")
                .contains("jms"), "spend by ingress to name jms");
        // the reply is sent after the upstream answered on a Netty event loop, but not on it: on the route's own pool
        JmsBus bus = (JmsBus) gateway.caravan().context().getRegistry().lookupByName("bus-jms");
        assertThat(bus.lastSenderThread()).contains("bus-jms-reply").doesNotContain("caravan-io");
    }

    @Test
    void withoutACorrelationIdTheReplyCarriesTheRequestsMessageId() throws Exception {
        Queue replies = session.createQueue("client.replies");
        try (MessageConsumer consumer = session.createConsumer(replies)) {
            TextMessage m = request(chat("no correlation id"), replies, "Authorization", "Bearer " + KEY);
            send(m);

            TextMessage reply = receive(consumer);
            assertThat(m.getJMSMessageID()).isNotNull();
            assertThat(reply.getJMSCorrelationID()).isEqualTo(m.getJMSMessageID());
            assertThat(reply.getStringProperty("caravan_status")).isEqualTo("200");
        }
    }

    @Test
    void theContractsOwnDashedNamesAreReadTooWhereAClientCanSetThem() throws Exception {
        TemporaryQueue replies = session.createTemporaryQueue();
        try (MessageConsumer consumer = session.createConsumer(replies)) {
            send(request(chat("dashed names"), replies, "caravan-api-key", KEY, "caravan-operation", "chat.completions"));
            TextMessage reply = receive(consumer);
            assertThat(reply.getStringProperty("caravan_status")).as(reply.getText()).isEqualTo("200");
        } finally {
            replies.delete();
        }
    }

    @Test
    void theSameRequestSentTwiceWithAnIdempotencyKeyIsCalledAndChargedOnceAndAnsweredTwiceAlike() throws Exception {
        TemporaryQueue replies = session.createTemporaryQueue();
        List<TextMessage> got = new ArrayList<>();
        try (MessageConsumer consumer = session.createConsumer(replies)) {
            for (int i = 0; i < 2; i++) {
                send(request(chat("charge me once"), replies, "caravan_api_key", DUP_KEY,
                        "caravan_idempotency_key", "invoice-2026-0042"));
                got.add(receive(consumer));
            }
        } finally {
            replies.delete();
        }
        assertThat(callsByPrompt.get("charge me once")).hasValue(1);
        assertThat(got.get(1).getText()).isEqualTo(got.get(0).getText());
        assertThat(got.get(1).getStringProperty("caravan_request_id")).isEqualTo(got.get(0).getStringProperty("caravan_request_id"));
        assertThat(got.get(1).getStringProperty("caravan_cost_usd")).isEqualTo(got.get(0).getStringProperty("caravan_cost_usd"));
        assertThat(got.get(0).getStringProperty("caravan_replayed")).isNull();
        assertThat(got.get(1).getStringProperty("caravan_replayed")).isEqualTo("true");
        // one charge: the ledger holds one request for the key, costing what the first reply said
        BigDecimal cost = new BigDecimal(got.get(0).getStringProperty("caravan_cost_usd"));
        TestGateway.eventually(() -> spendOf("jms-dup") != null, "the ledger to store the charge");
        Thread.sleep(300); // a second row, had there been one, would be written by now (flush every 20 ms)
        JsonNode spend = spendOf("jms-dup");
        assertThat(spend.path("requests").asInt()).isEqualTo(1);
        assertThat(spend.path("cost_usd").decimalValue()).isEqualByComparingTo(cost);
    }

    @Test
    void aMessageRedeliveredAfterItsCommitFailedIsAnsweredOnceFromMemoryWithoutASecondCallOrCharge() throws Exception {
        TemporaryQueue replies = session.createTemporaryQueue();
        TextMessage m = request(chat("redeliver me"), replies, "caravan_api_key", REDELIVERED_KEY);
        TextMessage reply;
        try (MessageConsumer consumer = session.createConsumer(replies)) {
            refuseNextCommit.set(true); // the gateway's commit of the reply and the acknowledgement fails: both undone
            send(m);
            reply = receive(consumer);
            assertThat(consumer.receive(1000)).as("a second reply").isNull();
        } finally {
            replies.delete();
        }
        assertThat(refuseNextCommit).isFalse();
        // the broker delivered the same message (same JMSMessageID) again; its reply came from the memory
        assertThat(reply.getJMSCorrelationID()).isEqualTo(m.getJMSMessageID());
        assertThat(reply.getStringProperty("caravan_status")).isEqualTo("200");
        assertThat(reply.getStringProperty("caravan_replayed")).isEqualTo("true");
        assertThat(callsByPrompt.get("redeliver me")).hasValue(1);
        TestGateway.eventually(() -> spendOf("jms-redelivered") != null, "the ledger to store the charge");
        Thread.sleep(300);
        assertThat(spendOf("jms-redelivered").path("requests").asInt()).isEqualTo(1);
    }

    static JsonNode spendOf(String keyId) {
        JsonNode spend = Json.parseObjectOrNull(gateway.get("/admin/spend?group_by=key",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY).body());
        for (JsonNode group : spend.path("data")) {
            if (keyId.equals(group.path("key").asText())) {
                return group;
            }
        }
        return null;
    }

    @Test
    void malformedAndUnauthorisedMessagesGetOpenAiErrorRepliesWithTheirStatus() throws Exception {
        TemporaryQueue replies = session.createTemporaryQueue();
        Map<String, TextMessage> got = new HashMap<>();
        try (MessageConsumer consumer = session.createConsumer(replies)) {
            send(request("{not json", replies, "caravan_api_key", KEY));
            got.put("malformed", receive(consumer));
            send(request(chat("who am i"), replies));
            got.put("no key", receive(consumer));
            send(request(chat("who am i"), replies, "caravan_api_key", "sk-not-a-key"));
            got.put("wrong key", receive(consumer));
        } finally {
            replies.delete();
        }
        assertThat(got.get("malformed").getStringProperty("caravan_status")).isEqualTo("400");
        assertThat(json(got.get("malformed")).path("error").path("code").asText()).isEqualTo("invalid_json");
        for (String unauthorised : List.of("no key", "wrong key")) {
            assertThat(got.get(unauthorised).getStringProperty("caravan_status")).as(unauthorised).isEqualTo("401");
        }
        for (TextMessage reply : got.values()) {
            JsonNode error = json(reply).path("error");
            assertThat(error.has("message") && error.has("type") && error.has("code")).as(reply.getText()).isTrue();
            assertThat(reply.getText()).doesNotContain("Exception").doesNotContain("at dev.caravan").doesNotContain("sk-not-a-key");
        }
        assertThat(callsByPrompt).doesNotContainKey("who am i");
    }

    @Test
    void withNoReplyDestinationTheyAreDeadLetteredWithTheReasonAndTheirOwnProperties() throws Exception {
        send(request("{not json", null, "caravan_api_key", KEY, "order_ref", "A-1"));
        send(request(chat("nowhere to reply"), null, "order_ref", "A-2"));

        List<Message> dead = broker.receive(session, "caravan.dlq", 2);
        Map<String, TextMessage> byRef = new HashMap<>();
        for (Message m : dead) {
            byRef.put(m.getStringProperty("order_ref"), (TextMessage) m);
        }
        assertThat(byRef.get("A-1").getText()).isEqualTo("{not json");
        assertThat(byRef.get("A-2").getText()).isEqualTo(chat("nowhere to reply"));
        for (TextMessage m : byRef.values()) {
            assertThat(m.getStringProperty("caravan_dead_letter_reason")).isEqualTo("no_reply_destination");
            assertThat(m.getStringProperty("caravan_status")).isEqualTo("400");
            assertThat(Json.parseObjectOrNull(m.getStringProperty("caravan_error")).path("error").path("code").asText())
                    .isEqualTo("no_reply_destination");
            assertThat(m.getStringProperty("caravan_api_key")).as("the key stays out of the dead-letter queue").isNull();
        }
        assertThat(callsByPrompt).doesNotContainKey("nowhere to reply");
    }

    @Test
    void aThousandMessagesAreAllAnsweredWithNeverMoreThanEightUpstreamCallsAtOnce() throws Exception {
        int n = 1000;
        Queue replies = session.createQueue("flood.replies");
        mostAtOnce.set(0);
        Set<String> answered = new HashSet<>();
        try (MessageConsumer consumer = session.createConsumer(replies);
             MessageProducer producer = session.createProducer(session.createQueue("caravan.requests"))) {
            producer.setDeliveryMode(DeliveryMode.NON_PERSISTENT); // the stock client then sends without waiting
            for (int i = 0; i < n; i++) {
                TextMessage m = request(chat("flood " + i), replies, "caravan_api_key", KEY);
                m.setJMSCorrelationID("flood-" + i);
                producer.send(m);
            }
            long deadline = System.currentTimeMillis() + 60_000;
            while (answered.size() < n && System.currentTimeMillis() < deadline) {
                Message m = consumer.receive(1000);
                if (m != null) {
                    assertThat(m.getStringProperty("caravan_status")).isEqualTo("200");
                    answered.add(m.getJMSCorrelationID());
                }
            }
        }
        assertThat(answered).hasSize(n);
        for (int i = 0; i < n; i += 97) {
            assertThat(callsByPrompt.get("flood " + i)).hasValue(1);
        }
        assertThat(mostAtOnce.get()).as("upstream calls at once").isLessThanOrEqualTo(8).isGreaterThan(1);
    }

    @Test
    void aChunkedStreamIsAnsweredAsOrderedMessagesEndingWithTheLastMarker() throws Exception {
        TemporaryQueue replies = session.createTemporaryQueue();
        List<TextMessage> parts = new ArrayList<>();
        try (MessageConsumer consumer = session.createConsumer(replies)) {
            TextMessage m = request("{\"model\":\"mock-gpt\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"count to five\"}]}",
                    replies, "caravan_api_key", KEY, "caravan_stream", "chunks");
            m.setJMSCorrelationID("stream-1");
            send(m);
            do {
                parts.add(receive(consumer));
            } while (!"true".equals(parts.get(parts.size() - 1).getStringProperty("caravan_last")));
        } finally {
            replies.delete();
        }
        assertThat(parts).hasSizeGreaterThan(1);
        for (int i = 0; i < parts.size(); i++) {
            TextMessage part = parts.get(i);
            assertThat(part.getJMSCorrelationID()).isEqualTo("stream-1");
            assertThat(part.getStringProperty("caravan_sequence")).isEqualTo(Integer.toString(i));
            assertThat(part.getStringProperty("caravan_status")).isEqualTo("200");
            assertThat(json(part).path("object").asText()).isEqualTo("chat.completion.chunk");
            assertThat(part.getStringProperty("caravan_last")).isEqualTo(i == parts.size() - 1 ? "true" : null);
        }
    }

    @Test
    void theBrokerPasswordAndTheKeysNeverReachALogLine() throws Exception {
        aRequestGetsItsReplyWithItsCorrelationIdAndTheCaravanProperties();
        for (ILoggingEvent e : List.copyOf(logs.list)) {
            String line = e.getFormattedMessage() + (e.getThrowableProxy() == null ? ""
                    : ch.qos.logback.classic.spi.ThrowableProxyUtil.asString(e.getThrowableProxy()));
            assertThat(line).doesNotContain(PASSWORD).doesNotContain(KEY).doesNotContain("hello over jms");
        }
    }
}
