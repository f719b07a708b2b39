package dev.caravan.config;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The {@code bus:} block as an operator writes it: the example loads, mistakes are named on load. */
class BusConfigTest {

    private final ConfigLoader loader = new ConfigLoader(Map.of("AMQP_PASSWORD", "s3cret-amqp")::get);

    private static final String MODELS = """
            providers:
              mock: { type: mock }
            models:
              - name: m
                deployments: [ { provider: mock, model: m } ]
            """;

    @Test
    void theDocumentedBlockLoadsWithItsDefaults() throws Exception {
        GatewayConfig config = loader.parse("test", MODELS + """
                bus:
                  jms:   { url: "tcp://localhost:61616", requestQueue: caravan.requests, deadLetterQueue: caravan.dlq, concurrency: 8 }
                  amqp:  { url: "amqp://localhost:5672", username: guest, password: "${env:AMQP_PASSWORD}", requestQueue: caravan.requests, deadLetterQueue: caravan.dlq }
                  kafka: { bootstrap: "localhost:9092", requestTopic: caravan.requests, replyTopic: caravan.replies, deadLetterTopic: caravan.dlq, groupId: caravan }
                  maxInFlight: 64
                  redeliveries: 3
                """);
        BusConfig bus = config.bus();
        assertThat(bus.jms().url()).isEqualTo("tcp://localhost:61616");
        assertThat(bus.jms().concurrency()).isEqualTo(8);
        assertThat(bus.amqp().password()).isEqualTo("s3cret-amqp");
        assertThat(bus.amqp().toString()).doesNotContain("s3cret-amqp");
        assertThat(bus.kafka().replyTopic()).isEqualTo("caravan.replies");
        assertThat(bus.kafka().concurrency()).isEqualTo(1);
        assertThat(bus.maxInFlight()).isEqualTo(64);
        assertThat(bus.redeliveries()).isEqualTo(3);
        assertThat(bus.dedupTtl()).isEqualTo(Duration.ofHours(24));
        assertThat(bus.any()).isTrue();
    }

    @Test
    void noBusBlockMeansNoBus() throws Exception {
        assertThat(loader.parse("test", MODELS).bus().any()).isFalse();
    }

    @Test
    void aLiteralPasswordIsRefusedWithoutBeingEchoed() {
        assertThatThrownBy(() -> loader.parse("test", MODELS + """
                bus:
                  amqp: { password: "hunter2-literal" }
                """)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("$.bus.amqp.password: literal secrets are refused")
                .hasMessageNotContaining("hunter2-literal");
    }

    @Test
    void mistakesAreNamed() {
        assertThatThrownBy(() -> loader.parse("test", MODELS + """
                bus:
                  jms: { url: "tcp://localhost:61616", requestQueue: same, deadLetterQueue: same }
                """)).isInstanceOf(ConfigException.class).hasMessageContaining("bus.jms.deadLetterQueue");
        assertThatThrownBy(() -> loader.parse("test", MODELS + """
                bus:
                  kafka: { requestTopic: caravan.requests }
                """)).isInstanceOf(ConfigException.class).hasMessageContaining("bootstrap");
        assertThatThrownBy(() -> loader.parse("test", MODELS + """
                bus:
                  jms: { url: "tcp://localhost:61616", queue: caravan.requests }
                """)).isInstanceOf(ConfigException.class).hasMessageContaining("queue");
        assertThatThrownBy(() -> loader.parse("test", MODELS + """
                bus:
                  maxInFlight: 0
                """)).isInstanceOf(ConfigException.class).hasMessageContaining("maxInFlight");
    }

    @Test
    void kafkaClientSettingsTakeSecretsAsReferencesAndLeaveCaravansOwnAlone() throws Exception {
        GatewayConfig config = loader.parse("test", MODELS + """
                bus:
                  kafka:
                    bootstrap: "broker:9093"
                    client: { security.protocol: SASL_SSL, sasl.mechanism: SCRAM-SHA-512, sasl.jaas.config: "${env:AMQP_PASSWORD}" }
                """);
        assertThat(config.bus().kafka().client()).containsEntry("security.protocol", "SASL_SSL")
                .containsEntry("sasl.jaas.config", "s3cret-amqp");
        assertThat(config.bus().kafka().toString()).doesNotContain("s3cret-amqp");
        assertThatThrownBy(() -> loader.parse("test", MODELS + """
                bus:
                  kafka: { bootstrap: "b:9092", client: { ssl.truststore.password: "changeit" } }
                """)).isInstanceOf(ConfigException.class).hasMessageContaining("ssl.truststore.password")
                .hasMessageNotContaining("changeit");
        assertThatThrownBy(() -> loader.parse("test", MODELS + """
                bus:
                  kafka: { bootstrap: "b:9092", client: { group.id: other } }
                """)).isInstanceOf(ConfigException.class).hasMessageContaining("bus.kafka.client.group.id");
    }
}
