package dev.caravan.transport.bus;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code bus.kafka.client}: a cluster that takes only authenticated clients (SASL/PLAIN here) is served with the
 * settings given once, for the consumers, the reply producer and the health check alike; the JAAS config (a
 * password) comes from a secret file and never reaches a log line; a wrong password leaves the bus DOWN.
 */
class KafkaSaslTest {

    private static final String PASSWORD = "caravan-sasl-secret-4711";
    private static KafkaBroker broker;
    private static TestGateway gateway;
    private static final ListAppender<ILoggingEvent> LOGS = new ListAppender<>();

    private static String yaml(String bootstrap, Path jaas) {
        return """
                providers:
                  mock: { type: mock }
                models:
                  - name: mock-gpt
                    deployments: [ { provider: mock, model: mock-gpt } ]
                keys:
                  - id: demo
                    sha256: bd064c47a07f5e297c4d7198b05c97024eae96d2a4d18612def78da7f1307af4
                bus:
                  kafka:
                    bootstrap: "%s"
                    requestTopic: sasl.requests
                    replyTopic: sasl.replies
                    deadLetterTopic: sasl.dlq
                    groupId: sasl-%s
                    client:
                      security.protocol: SASL_PLAINTEXT
                      sasl.mechanism: PLAIN
                      sasl.jaas.config: "${file:%s}"
                """.formatted(bootstrap, UUID.randomUUID(), jaas);
    }

    private static Path jaas(String password) throws Exception {
        Path file = Files.createTempFile("kafka-jaas", ".conf");
        Files.writeString(file, "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"caravan\" "
                + "password=\"" + password + "\";");
        return file;
    }

    @BeforeAll
    static void start() throws Exception {
        LOGS.start();
        ((Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME)).addAppender(LOGS);
        broker = KafkaBroker.startWithSasl("caravan", PASSWORD);
        broker.createTopic("sasl.requests", 1);
        broker.createTopic("sasl.replies", 1);
        broker.createTopic("sasl.dlq", 1);
        gateway = TestGateway.start(yaml(broker.saslBootstrap(), jaas(PASSWORD)));
    }

    @AfterAll
    static void stop() throws Exception {
        ((Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME)).detachAppender(LOGS);
        if (gateway != null) {
            gateway.close();
        }
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void anAuthenticatedClusterIsServedAndThePasswordNeverLogged() throws Exception {
        TestGateway.eventually(() -> gateway.get("/health/ready").body().contains("\"kafka\":\"UP\""),
                "the kafka bus up through SASL");
        String id = UUID.randomUUID().toString();
        String answer = null;
        try (var producer = new KafkaProducer<>(Map.<String, Object>of("bootstrap.servers", broker.bootstrap()),
                new StringSerializer(), new StringSerializer());
             var consumer = new KafkaConsumer<>(Map.<String, Object>of("bootstrap.servers", broker.bootstrap(),
                     "group.id", "sasl-client-" + id, "auto.offset.reset", "earliest"),
                     new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of("sasl.replies"));
            ProducerRecord<String, String> request = new ProducerRecord<>("sasl.requests", id,
                    "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hello through SASL\"}]}");
            request.headers().add("caravan-api-key", TestGateway.DEMO_KEY.getBytes(StandardCharsets.UTF_8));
            request.headers().add("caravan-correlation-id", id.getBytes(StandardCharsets.UTF_8));
            producer.send(request).get();
            long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (answer == null && System.nanoTime() < end) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    Header c = r.headers().lastHeader("caravan-correlation-id");
                    if (c != null && id.equals(new String(c.value(), StandardCharsets.UTF_8))) {
                        assertThat(new String(r.headers().lastHeader("caravan-status").value(), StandardCharsets.UTF_8))
                                .isEqualTo("200");
                        answer = r.value();
                    }
                }
            }
        }
        assertThat(answer).isNotNull();
        assertThat(Json.parseObjectOrNull(answer.getBytes(StandardCharsets.UTF_8)).path("object").asText())
                .isEqualTo("chat.completion");
        assertThat(List.copyOf(LOGS.list)).noneMatch(e -> e.getFormattedMessage().contains(PASSWORD));
    }

    @Test
    void aWrongPasswordLeavesTheBusDownWhileHttpServes() throws Exception {
        try (TestGateway refused = TestGateway.start(yaml(broker.saslBootstrap(), jaas("not-the-password")))) {
            Thread.sleep(3000); // the health check's first describeCluster is refused
            assertThat(refused.get("/health/ready").body()).contains("\"kafka\":\"DOWN\"");
            assertThat(refused.post("/v1/chat/completions", "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\","
                    + "\"content\":\"hi\"}]}", "Authorization", "Bearer " + TestGateway.DEMO_KEY,
                    "Content-Type", "application/json").statusCode()).isEqualTo(200);
        }
        assertThat(List.copyOf(LOGS.list)).noneMatch(e -> e.getFormattedMessage().contains("not-the-password"));
    }
}
