import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DeliverCallback;
import jakarta.jms.DeliveryMode;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import jakarta.jms.TemporaryQueue;
import jakarta.jms.TextMessage;
import org.apache.activemq.ActiveMQConnectionFactory;
import org.apache.activemq.broker.BrokerService;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * bench/bus's measuring half (run with the test classpath: see bench/bus). One gateway, started from the jar through
 * bin/caravan, with all three buses on and the built-in mock as the upstream; the same chat request sent over HTTP
 * (the baseline), JMS (an in-process ActiveMQ), AMQP (the RabbitMQ at 127.0.0.1:5672) and Kafka (an in-process KRaft
 * broker), each by its stock client with the same number of requests in flight. Prints a Markdown table.
 */
public final class BusBench {

    static final String KEY = "sk-bench-bus-0123456789";
    static final String BODY = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello to the bus.\"}]}";

    record Result(String ingress, int messages, double seconds, List<Long> latenciesNanos, int failures) {
        double rate() {
            return messages / seconds;
        }

        double percentileMs(double p) {
            List<Long> sorted = new ArrayList<>(latenciesNanos);
            Collections.sort(sorted);
            if (sorted.isEmpty()) {
                return 0;
            }
            return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p * sorted.size()) - 1)) / 1e6;
        }
    }

    interface Client extends AutoCloseable {
        /** Sends one request and waits for its reply; false when the reply was not a 200. */
        boolean call() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        int messages = 2000;
        int inFlight = 16;
        String jar = "target/caravan.jar";
        String routes = "routes";
        Path out = null; // the table's file: stdout carries the in-process brokers' log lines
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--messages" -> messages = Integer.parseInt(args[++i]);
                case "--in-flight" -> inFlight = Integer.parseInt(args[++i]);
                case "--jar" -> jar = args[++i];
                case "--routes" -> routes = args[++i];
                case "--out" -> out = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        Path tmp = Files.createTempDirectory("caravan-bus-bench");
        String run = Long.toString(System.currentTimeMillis(), 36);
        String queue = "bench-" + run + ".requests";
        String dlq = "bench-" + run + ".dlq";

        log("starting ActiveMQ in this process");
        BrokerService activemq = new BrokerService();
        activemq.setPersistent(false);
        activemq.setUseJmx(false);
        activemq.setBrokerName("bench");
        activemq.addConnector("tcp://127.0.0.1:0");
        activemq.start();
        String jmsUrl = activemq.getTransportConnectors().get(0).getPublishableConnectString();

        log("starting Kafka (KRaft) in this process");
        AutoCloseable kafka = startKafka(tmp.resolve("kafka"));
        String bootstrap = kafkaBootstrap(kafka);
        int partitions = Math.max(1, Math.min(inFlight, 8));
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.createTopics(List.of(new NewTopic(queue, partitions, (short) 1), new NewTopic("bench-" + run + ".replies", 1, (short) 1),
                    new NewTopic(dlq, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }

        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(KEY.getBytes(StandardCharsets.UTF_8)));
        String yaml = """
                providers:
                  mock: { type: mock }
                models:
                  - name: mock-gpt
                    deployments: [ { provider: mock, model: mock-gpt, price: { input: 0.15, output: 0.60 } } ]
                keys:
                  - { id: bench, sha256: "%s", role: user }
                bus:
                  jms:   { url: "%s", requestQueue: %s, deadLetterQueue: %s, concurrency: %d }
                  amqp:  { url: "amqp://127.0.0.1:5672", requestQueue: %s, deadLetterQueue: %s, concurrency: %d }
                  kafka: { bootstrap: "%s", requestTopic: %s, replyTopic: bench-%s.replies, deadLetterTopic: %s, groupId: bench-%s, concurrency: %d }
                  maxInFlight: 64
                """.formatted(sha, jmsUrl, queue, dlq, inFlight, queue, dlq, inFlight, bootstrap, queue, run, dlq, run, partitions);
        Path config = tmp.resolve("gateway.yaml");
        Files.writeString(config, yaml);
        int port = freePort();
        ProcessBuilder pb = new ProcessBuilder("sh", "bin/caravan").redirectErrorStream(true)
                .redirectOutput(tmp.resolve("caravan.log").toFile());
        pb.environment().put("CARAVAN_PORT", Integer.toString(port));
        pb.environment().put("CARAVAN_CONFIG", config.toString());
        pb.environment().put("CARAVAN_DATA_DIR", tmp.resolve("data").toString());
        pb.environment().put("CARAVAN_JAR", jar);
        pb.environment().put("CARAVAN_ROUTES", routes);
        pb.environment().put("CARAVAN_MASTER_KEY", "sk-bench-master-0123456789");
        log("starting the gateway on port " + port);
        Process gateway = pb.start();
        List<Result> results = new ArrayList<>();
        try {
            awaitReady(port, gateway, tmp.resolve("caravan.log"));
            int warm = Math.max(200, messages / 4);
            results.add(measure("http", () -> httpClient(port), warm, messages, inFlight));
            results.add(measure("jms", () -> jmsClient(jmsUrl, queue), warm, messages, inFlight));
            results.add(measure("amqp", () -> amqpClient(queue), warm, messages, inFlight));
            results.add(kafkaRun(bootstrap, queue, warm, messages, inFlight));
        } finally {
            gateway.destroy();
            gateway.waitFor(70, TimeUnit.SECONDS);
            try {
                ConnectionFactory f = new ConnectionFactory();
                try (Connection c = f.newConnection(); Channel ch = c.createChannel()) {
                    ch.queueDelete(queue);
                    ch.queueDelete(dlq);
                }
            } catch (IOException | RuntimeException e) {
                log("could not delete the RabbitMQ queues " + queue + ", " + dlq + ": " + e);
            }
            kafka.close();
            activemq.stop();
        }
        if (out == null) {
            System.out.println(table(results, messages, inFlight));
        } else {
            Files.writeString(out, table(results, messages, inFlight));
        }
    }

    // ---- measuring -----------------------------------------------------------------------------------------------

    interface Opener {
        Client open() throws Exception;
    }

    /** Warm-up, then {@code messages} requests by {@code inFlight} clients, each waiting for its reply. */
    static Result measure(String ingress, Opener opener, int warm, int messages, int inFlight) throws Exception {
        log(ingress + ": " + warm + " to warm up, then " + messages + " with " + inFlight + " in flight");
        List<Client> clients = new ArrayList<>();
        for (int i = 0; i < inFlight; i++) {
            clients.add(opener.open());
        }
        try {
            loop(clients, warm);
            return loop(ingress, clients, messages);
        } finally {
            for (Client c : clients) {
                c.close();
            }
        }
    }

    static void loop(List<Client> clients, int messages) throws Exception {
        loop("warm-up", clients, messages);
    }

    static Result loop(String ingress, List<Client> clients, int messages) throws Exception {
        AtomicInteger left = new AtomicInteger(messages);
        AtomicInteger failures = new AtomicInteger();
        List<Long> latencies = Collections.synchronizedList(new ArrayList<>(messages));
        AtomicReference<Exception> broken = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        long start = System.nanoTime();
        for (Client client : clients) {
            Thread t = new Thread(() -> {
                try {
                    while (left.getAndDecrement() > 0) {
                        long t0 = System.nanoTime();
                        if (!client.call()) {
                            failures.incrementAndGet();
                        }
                        latencies.add(System.nanoTime() - t0);
                    }
                } catch (Exception e) {
                    broken.compareAndSet(null, e);
                }
            });
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join();
        }
        if (broken.get() != null) {
            throw new IllegalStateException(ingress + " failed", broken.get());
        }
        return new Result(ingress, messages, (System.nanoTime() - start) / 1e9, latencies, failures.get());
    }

    // ---- the four clients ----------------------------------------------------------------------------------------

    static Client httpClient(int port) {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                .header("Authorization", "Bearer " + KEY).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(BODY)).build();
        return new Client() {
            public boolean call() throws Exception {
                return http.send(request, HttpResponse.BodyHandlers.ofString()).statusCode() == 200;
            }

            public void close() {
            }
        };
    }

    /** JMS request-reply: a temporary reply queue per client, JMSCorrelationID set. */
    static Client jmsClient(String url, String queue) throws Exception {
        jakarta.jms.Connection connection = new ActiveMQConnectionFactory(url).createConnection();
        connection.start();
        Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer producer = session.createProducer(session.createQueue(queue));
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        TemporaryQueue replies = session.createTemporaryQueue();
        MessageConsumer consumer = session.createConsumer(replies);
        return new Client() {
            public boolean call() throws Exception {
                TextMessage m = session.createTextMessage(BODY);
                m.setStringProperty("caravan_api_key", KEY);
                m.setJMSReplyTo(replies);
                String id = UUID.randomUUID().toString();
                m.setJMSCorrelationID(id);
                producer.send(m);
                jakarta.jms.Message reply = consumer.receive(30_000);
                if (reply == null) {
                    throw new IllegalStateException("no JMS reply in 30 s");
                }
                return id.equals(reply.getJMSCorrelationID()) && "200".equals(reply.getStringProperty("caravan_status"));
            }

            public void close() throws Exception {
                connection.close();
            }
        };
    }

    /** RabbitMQ's RPC pattern on direct reply-to (amq.rabbitmq.reply-to), correlation-id set. */
    static Client amqpClient(String queue) throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost("127.0.0.1");
        Connection connection = factory.newConnection();
        Channel channel = connection.createChannel();
        java.util.concurrent.BlockingQueue<com.rabbitmq.client.Delivery> inbox = new java.util.concurrent.LinkedBlockingQueue<>();
        DeliverCallback onReply = (tag, delivery) -> inbox.add(delivery);
        channel.basicConsume("amq.rabbitmq.reply-to", true, onReply, tag -> { });
        return new Client() {
            public boolean call() throws Exception {
                String id = UUID.randomUUID().toString();
                AMQP.BasicProperties props = new AMQP.BasicProperties.Builder().correlationId(id)
                        .replyTo("amq.rabbitmq.reply-to").contentType("application/json").deliveryMode(2)
                        .headers(Map.of("caravan-api-key", KEY)).build();
                channel.basicPublish("", queue, props, BODY.getBytes(StandardCharsets.UTF_8));
                com.rabbitmq.client.Delivery reply = inbox.poll(30, TimeUnit.SECONDS);
                if (reply == null) {
                    throw new IllegalStateException("no AMQP reply in 30 s");
                }
                Object status = reply.getProperties().getHeaders() == null ? null
                        : reply.getProperties().getHeaders().get("caravan-status");
                return id.equals(reply.getProperties().getCorrelationId()) && status != null && "200".equals(status.toString());
            }

            public void close() throws Exception {
                connection.close();
            }
        };
    }

    /** Kafka: one producer and one reply consumer; {@code inFlight} requests outstanding at once. */
    static Result kafkaRun(String bootstrap, String topic, int warm, int messages, int inFlight) throws Exception {
        log("kafka: " + warm + " to warm up, then " + messages + " with " + inFlight + " in flight");
        String replies = topic.replace(".requests", ".replies");
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("linger.ms", "0");
        Properties c = new Properties();
        c.put("bootstrap.servers", bootstrap);
        c.put("group.id", "bench-client-" + UUID.randomUUID());
        c.put("auto.offset.reset", "earliest");
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
             KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(replies));
            Map<String, Long> sent = new ConcurrentHashMap<>();
            Semaphore window = new Semaphore(inFlight);
            AtomicInteger failures = new AtomicInteger();
            List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
            for (String phase : new String[]{"warm-up", "kafka"}) {
                int n = phase.equals("kafka") ? messages : warm;
                latencies.clear();
                failures.set(0);
                CountDownLatch done = new CountDownLatch(n);
                AtomicReference<Exception> broken = new AtomicReference<>();
                Thread reader = new Thread(() -> {
                    try {
                        while (done.getCount() > 0) {
                            for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                                org.apache.kafka.common.header.Header h = r.headers().lastHeader("caravan-correlation-id");
                                String id = h == null ? r.key() : new String(h.value(), StandardCharsets.UTF_8);
                                Long t0 = id == null ? null : sent.remove(id);
                                if (t0 == null) {
                                    continue; // an earlier phase's, or not ours
                                }
                                latencies.add(System.nanoTime() - t0);
                                org.apache.kafka.common.header.Header s = r.headers().lastHeader("caravan-status");
                                if (s == null || !"200".equals(new String(s.value(), StandardCharsets.UTF_8))) {
                                    failures.incrementAndGet();
                                }
                                window.release();
                                done.countDown();
                            }
                        }
                    } catch (Exception e) {
                        broken.set(e);
                    }
                });
                reader.start();
                long start = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    if (!window.tryAcquire(30, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("kafka: no reply for 30 s (" + done.getCount() + " left)");
                    }
                    String id = UUID.randomUUID().toString();
                    ProducerRecord<String, byte[]> record = new ProducerRecord<>(topic, id, BODY.getBytes(StandardCharsets.UTF_8));
                    record.headers().add("caravan-api-key", KEY.getBytes(StandardCharsets.UTF_8));
                    record.headers().add("caravan-correlation-id", id.getBytes(StandardCharsets.UTF_8));
                    record.headers().add("caravan-reply-topic", replies.getBytes(StandardCharsets.UTF_8));
                    sent.put(id, System.nanoTime());
                    producer.send(record);
                }
                if (!done.await(60, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("kafka: " + done.getCount() + " replies missing after 60 s");
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                reader.join();
                if (broken.get() != null) {
                    throw broken.get();
                }
                if (phase.equals("kafka")) {
                    return new Result("kafka", n, seconds, new ArrayList<>(latencies), failures.get());
                }
            }
        }
        throw new IllegalStateException("unreachable");
    }

    // ---- the rest ------------------------------------------------------------------------------------------------

    /** The in-process KRaft broker of the tests (src/test/.../transport/bus/KafkaBroker), through reflection. */
    static AutoCloseable startKafka(Path dir) throws Exception {
        Class<?> broker = Class.forName("dev.caravan.transport.bus.KafkaBroker");
        return (AutoCloseable) broker.getMethod("start").invoke(null);
    }

    static String kafkaBootstrap(AutoCloseable broker) throws Exception {
        return (String) broker.getClass().getMethod("bootstrap").invoke(broker);
    }

    static void awaitReady(int port, Process gateway, Path log) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            if (!gateway.isAlive()) {
                throw new IllegalStateException("the gateway exited: " + Files.readString(log));
            }
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health/ready")).build(),
                        HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200 && r.body().contains("\"jms\":\"UP\"") && r.body().contains("\"amqp\":\"UP\"")
                        && r.body().contains("\"kafka\":\"UP\"")) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(250);
        }
        throw new IllegalStateException("the gateway's buses were not all up within 90 s: " + Files.readString(log));
    }

    static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static String table(List<Result> results, int messages, int inFlight) {
        double http = results.get(0).rate();
        StringBuilder out = new StringBuilder();
        out.append("| ingress | messages | in flight | msg/s | vs HTTP | p50 ms | p99 ms | not 200 |\n");
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Result r : results) {
            out.append(String.format(java.util.Locale.ROOT, "| %s | %d | %d | %.0f | %.2f | %.2f | %.2f | %d |%n", r.ingress(),
                    r.messages(), inFlight, r.rate(), r.rate() / http, r.percentileMs(0.50), r.percentileMs(0.99), r.failures()));
        }
        return out.toString();
    }

    static void log(String line) {
        System.err.printf("[bus bench %s] %s%n", Instant.now().toString().substring(11, 19), line);
    }
}
