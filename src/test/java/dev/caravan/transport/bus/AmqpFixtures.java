package dev.caravan.transport.bus;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import dev.caravan.auth.KeyAuthenticator;
import dev.caravan.core.Json;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * For the AMQP bus tests: the RabbitMQ on this machine (127.0.0.1:5672, guest), reached through the stock RabbitMQ
 * Java client as any integration would; and an upstream speaking OpenAI's wire format that counts its calls (all,
 * at once, and per prompt).
 */
final class AmqpFixtures {

    static final String HOST = "127.0.0.1";
    static final int PORT = 5672;

    private AmqpFixtures() {
    }

    static String sha(String key) {
        return HexFormat.of().formatHex(KeyAuthenticator.sha256(key));
    }

    /** A queue name no other run or test class uses. */
    static String uniqueQueue(String what) {
        return "caravan.test." + what + "." + Long.toHexString(System.nanoTime());
    }

    /** A connection to the broker; fails (never skips) when RabbitMQ is not running. */
    static Connection connect() throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost(HOST);
        factory.setPort(PORT);
        factory.setUsername("guest");
        factory.setPassword("guest");
        factory.setConnectionTimeout(5_000);
        return factory.newConnection("caravan-amqp-test-client");
    }

    /** Each reply or dead letter as the stock client received it. */
    record Delivery(AMQP.BasicProperties properties, byte[] body) {
        String header(String name) {
            Object v = properties.getHeaders() == null ? null : properties.getHeaders().get(name);
            return v == null ? null : v.toString();
        }

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        JsonNode json() {
            return Json.parseObjectOrNull(body);
        }
    }

    /**
     * The classic RabbitMQ RPC client: one exclusive, server-named reply queue, consumed with auto-ack; replies are
     * kept by correlation id.
     */
    static final class RpcClient implements AutoCloseable {
        final Channel channel;
        final String replyQueue;
        final Map<String, BlockingQueue<Delivery>> replies = new ConcurrentHashMap<>();
        final AtomicInteger received = new AtomicInteger();

        RpcClient(Connection connection) throws IOException {
            this(connection, false);
        }

        /** @param direct use direct reply-to ({@code amq.rabbitmq.reply-to}) instead of a queue of its own */
        RpcClient(Connection connection, boolean direct) throws IOException {
            channel = connection.createChannel();
            replyQueue = direct ? "amq.rabbitmq.reply-to" : channel.queueDeclare().getQueue();
            // direct reply-to needs its consumer (auto-ack) before the first publish on this channel
            channel.basicConsume(replyQueue, true, (tag, d) -> {
                String id = d.getProperties().getCorrelationId();
                replies.computeIfAbsent(id == null ? "" : id, k -> new LinkedBlockingQueue<>())
                        .add(new Delivery(d.getProperties(), d.getBody()));
                received.incrementAndGet();
            }, tag -> {
            });
        }

        /** Publishes a request to {@code queue}; headers as name, value pairs. */
        void send(String queue, String messageId, String correlationId, String body, String... headers) throws IOException {
            Map<String, Object> h = new java.util.HashMap<>();
            for (int i = 0; i < headers.length; i += 2) {
                h.put(headers[i], headers[i + 1]);
            }
            AMQP.BasicProperties props = new AMQP.BasicProperties.Builder().contentType("application/json")
                    .messageId(messageId).correlationId(correlationId).replyTo(replyQueue).headers(h).build();
            synchronized (channel) {
                channel.basicPublish("", queue, props, body.getBytes(StandardCharsets.UTF_8));
            }
        }

        /** The next reply with {@code correlationId}, waiting up to 20 s. */
        Delivery await(String correlationId) throws InterruptedException {
            Delivery d = replies.computeIfAbsent(correlationId, k -> new LinkedBlockingQueue<>()).poll(20, TimeUnit.SECONDS);
            if (d == null) {
                throw new AssertionError("no reply with correlation id " + correlationId + " within 20 s");
            }
            return d;
        }

        List<Delivery> all(String correlationId) {
            return List.copyOf(replies.getOrDefault(correlationId, new LinkedBlockingQueue<>()));
        }

        @Override
        public void close() throws Exception {
            if (channel.isOpen()) {
                channel.close();
            }
        }
    }

    /** The next message on {@code queue} (got and acknowledged), waiting up to 10 s. */
    static Delivery take(Channel channel, String queue) throws Exception {
        long deadline = System.currentTimeMillis() + 10_000;
        while (System.currentTimeMillis() < deadline) {
            GetResponse r = channel.basicGet(queue, true);
            if (r != null) {
                return new Delivery(r.getProps(), r.getBody());
            }
            Thread.sleep(50);
        }
        throw new AssertionError("nothing on " + queue + " within 10 s");
    }

    /**
     * An OpenAI-compatible upstream: each chat answer says which call made it ({@code answer #N to: <prompt>}), each
     * call takes {@code delayMillis}; it counts calls, calls at once (the most), and calls per prompt.
     */
    static final class Upstream implements AutoCloseable {
        final MockWebServer server = new MockWebServer();
        final AtomicInteger calls = new AtomicInteger();
        final AtomicInteger now = new AtomicInteger();
        final AtomicInteger most = new AtomicInteger();
        final Map<String, AtomicInteger> perPrompt = new ConcurrentHashMap<>();
        final long delayMillis;

        Upstream(long delayMillis) throws IOException {
            this.delayMillis = delayMillis;
            server.setDispatcher(new Dispatcher() {
                @Override
                public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
                    int at = now.incrementAndGet();
                    most.accumulateAndGet(at, Math::max);
                    try {
                        Thread.sleep(delayMillis);
                        return answer(request);
                    } finally {
                        now.decrementAndGet();
                    }
                }
            });
            server.start();
        }

        String baseUrl() {
            return server.url("/v1").toString();
        }

        int callsFor(String prompt) {
            AtomicInteger n = perPrompt.get(prompt);
            return n == null ? 0 : n.get();
        }

        void reset() {
            most.set(0);
        }

        private MockResponse answer(RecordedRequest request) {
            int n = calls.incrementAndGet();
            JsonNode body = Json.parseObjectOrNull(request.getBody().readUtf8());
            JsonNode messages = body.path("messages");
            String prompt = messages.get(messages.size() - 1).path("content").asText();
            perPrompt.computeIfAbsent(prompt, p -> new AtomicInteger()).incrementAndGet();
            String text = "answer #" + n + " to: " + prompt.replace("\"", "'");
            if (body.path("stream").asBoolean(false)) {
                StringBuilder sse = new StringBuilder();
                for (String word : text.split(" ")) {
                    sse.append("data: {\"id\":\"chatcmpl-up").append(n).append("\",\"object\":\"chat.completion.chunk\",")
                            .append("\"created\":1700000000,\"model\":\"up-model\",\"choices\":[{\"index\":0,")
                            .append("\"delta\":{\"content\":\"").append(word).append(" \"},\"finish_reason\":null}]}\n\n");
                }
                sse.append("data: {\"id\":\"chatcmpl-up").append(n).append("\",\"object\":\"chat.completion.chunk\",")
                        .append("\"created\":1700000000,\"model\":\"up-model\",\"choices\":[{\"index\":0,\"delta\":{},")
                        .append("\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,")
                        .append("\"total_tokens\":15}}\n\ndata: [DONE]\n\n");
                return new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(sse.toString());
            }
            return new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                    {"id":"chatcmpl-up%d","object":"chat.completion","created":1700000000,"model":"up-model",
                     "choices":[{"index":0,"message":{"role":"assistant","content":"%s"},"finish_reason":"stop"}],
                     "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}""".formatted(n, text));
        }

        @Override
        public void close() throws IOException {
            server.shutdown();
        }
    }

    static String chat(String prompt) {
        return "{\"model\":\"up\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}";
    }
}
