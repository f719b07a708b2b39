package dev.caravan.transport.bus;

import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A configured Kafka that cannot be reached does not stop the gateway: it starts, HTTP serves, {@code /health/ready}
 * says the bus is down; once the broker comes up the consumers find it and its requests are answered; when it goes
 * away again the bus is down again.
 */
class KafkaBusUnreachableTest {

    @Test
    void aGatewayStartsAndServesHttpWithKafkaDownThenAnswersOnceTheBrokerIsUp() throws Exception {
        int port = KafkaBroker.freePort();
        String yaml = TestGateway.MOCK_CONFIG + """
                bus:
                  kafka: { bootstrap: "127.0.0.1:%d", requestTopic: ku.requests, replyTopic: ku.replies, deadLetterTopic: ku.dlq }
                """.formatted(port);
        try (TestGateway gateway = TestGateway.start(yaml, Map.of("caravan.bus.kafka.healthInterval", "300",
                "caravan.bus.kafka.reconnectBackoffMaxMs", "1000"))) {
            HttpResponse<String> chat = gateway.post("/v1/chat/completions",
                    "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                    "Authorization", "Bearer " + TestGateway.DEMO_KEY, "Content-Type", "application/json");
            assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
            HttpResponse<String> ready = gateway.get("/health/ready");
            assertThat(ready.statusCode()).as("HTTP serves: ready").isEqualTo(200);
            assertThat(kafkaCheck(ready)).isEqualTo("DOWN");

            try (KafkaBroker broker = KafkaBroker.start(port)) {
                broker.createTopic("ku.requests", 1);
                broker.createTopic("ku.replies", 1);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!"UP".equals(kafkaCheck(gateway.get("/health/ready"))) && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                assertThat(kafkaCheck(gateway.get("/health/ready"))).isEqualTo("UP");
                try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers",
                        broker.bootstrap()), new StringSerializer(), new ByteArraySerializer());
                     KafkaConsumer<String, byte[]> replies = new KafkaConsumer<>(Map.of("bootstrap.servers",
                             broker.bootstrap(), "auto.offset.reset", "earliest"), new StringDeserializer(),
                             new ByteArrayDeserializer())) {
                    ProducerRecord<String, byte[]> request = new ProducerRecord<>("ku.requests", "late-1",
                            "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"late\"}]}"
                                    .getBytes(StandardCharsets.UTF_8));
                    request.headers().add("caravan-api-key", TestGateway.DEMO_KEY.getBytes(StandardCharsets.UTF_8));
                    producer.send(request).get(10, TimeUnit.SECONDS);
                    replies.assign(List.of(new TopicPartition("ku.replies", 0)));
                    ConsumerRecord<String, byte[]> reply = null;
                    deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    while (reply == null && System.nanoTime() < deadline) {
                        for (ConsumerRecord<String, byte[]> r : replies.poll(Duration.ofMillis(200))) {
                            reply = r;
                        }
                    }
                    assertThat(reply).as("a reply within 30 s of the broker coming up").isNotNull();
                    assertThat(reply.key()).isEqualTo("late-1");
                    assertThat(new String(reply.headers().lastHeader("caravan-status").value(), StandardCharsets.UTF_8))
                            .isEqualTo("200");
                }
            }
            // the broker gone again: the bus is down, HTTP still ready
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!"DOWN".equals(kafkaCheck(gateway.get("/health/ready"))) && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            HttpResponse<String> after = gateway.get("/health/ready");
            assertThat(after.statusCode()).isEqualTo(200);
            assertThat(kafkaCheck(after)).isEqualTo("DOWN");
        }
    }

    @Test
    void aBootstrapHostThatDoesNotResolveLeavesTheGatewayServingWithKafkaDown() throws Exception {
        String yaml = TestGateway.MOCK_CONFIG + """
                bus:
                  kafka: { bootstrap: "kafka.caravan-test.invalid:9092" }
                """;
        // camel-kafka's retry of a consumer it cannot create is not cut short by a stop: the stop waits its timeout
        try (TestGateway gateway = TestGateway.start(yaml, Map.of("caravan.bus.kafka.healthInterval", "300",
                "camel.main.shutdownTimeout", "1"))) {
            HttpResponse<String> chat = gateway.post("/v1/chat/completions",
                    "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                    "Authorization", "Bearer " + TestGateway.DEMO_KEY, "Content-Type", "application/json");
            assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
            Thread.sleep(600); // two health checks
            HttpResponse<String> ready = gateway.get("/health/ready");
            assertThat(ready.statusCode()).isEqualTo(200);
            assertThat(kafkaCheck(ready)).isEqualTo("DOWN");
        }
    }

    private static String kafkaCheck(HttpResponse<String> ready) {
        return Json.parseObjectOrNull(ready.body()).path("checks").path("buses").path("kafka").asText();
    }
}
