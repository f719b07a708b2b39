package dev.caravan.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** config/gateway.yaml is data: checked against the schema and its own references before anything uses it. */
class ConfigLoaderTest {

    final ConfigLoader loader = new ConfigLoader(Map.of("OPENAI_API_KEY", "sk-from-env")::get);

    @Test
    void theShippedConfigIsValid() throws Exception {
        GatewayConfig config = loader.load(Path.of("config/gateway.yaml"));
        assertThat(config.models()).containsKeys("mock-gpt", "mock-slow");
        assertThat(config.keysBySha256()).hasSize(1);
    }

    @Test
    void loadsProvidersModelsKeysAndDefaults() throws Exception {
        GatewayConfig config = loader.parse("test", """
                providers:
                  openai: { type: openai, baseUrl: "https://api.openai.com/v1/", apiKey: "${env:OPENAI_API_KEY}" }
                models:
                  - name: fast
                    timeout: 2s
                    deployments: [ { provider: openai, model: gpt-4o-mini }, { id: backup, provider: openai, model: gpt-4o } ]
                keys:
                  - { id: k1, sha256: "%s", team: search, models: [fast] }
                """.formatted("a".repeat(64)));
        ModelConfig fast = config.model("fast").orElseThrow();
        assertThat(fast.timeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(fast.streamIdleTimeout()).isEqualTo(ModelConfig.DEFAULT_STREAM_IDLE_TIMEOUT);
        assertThat(fast.deployments()).extracting(DeploymentConfig::id).containsExactly("openai-gpt-4o-mini", "backup");
        assertThat(fast.deployments().get(0).provider().apiKey()).isEqualTo("sk-from-env");
        assertThat(fast.deployments().get(0).provider().baseUrl().toString()).isEqualTo("https://api.openai.com/v1");
        assertThat(fast.deployments().get(0).provider().toString()).doesNotContain("sk-from-env");
        KeyConfig key = config.keysBySha256().get("a".repeat(64));
        assertThat(key.team()).isEqualTo("search");
        assertThat(key.role()).isEqualTo("user");
    }

    @Test
    void literalSecretsAreRefused() {
        assertThatThrownBy(() -> loader.parse("test", """
                providers:
                  openai: { type: openai, baseUrl: "https://api.openai.com/v1", apiKey: "sk-literal-key" }
                models: []
                """)).isInstanceOf(ConfigException.class).hasMessageContaining("apiKey")
                .hasMessageNotContaining("sk-literal-key");
    }

    @Test
    void unsetEnvironmentVariableIsNamed() {
        assertThatThrownBy(() -> loader.parse("test", """
                providers:
                  anthropic: { type: openai, baseUrl: "https://x/v1", apiKey: "${env:NOT_SET_ANYWHERE}" }
                models: []
                """)).isInstanceOf(ConfigException.class).hasMessageContaining("NOT_SET_ANYWHERE is not set");
    }

    @Test
    void secretsCanComeFromFiles() throws Exception {
        Path file = Files.createTempFile("key", ".txt");
        Files.writeString(file, "sk-from-file\n");
        GatewayConfig config = loader.parse("test", """
                providers:
                  p: { type: openai, baseUrl: "http://localhost:1/v1", apiKey: "${file:%s}" }
                models: [ { name: m, deployments: [ { provider: p, model: m } ] } ]
                """.formatted(file));
        assertThat(config.providers().get("p").apiKey()).isEqualTo("sk-from-file");
        Files.delete(file);
    }

    @Test
    void schemaViolationsSayWhere() {
        assertThatThrownBy(() -> loader.parse("gateway.yaml", """
                providers:
                  p: { type: teleport }
                models:
                  - { name: m, deployments: [ { provider: p } ], timeout: soon }
                extra: true
                """)).isInstanceOf(ConfigException.class)
                .satisfies(e -> assertThat(((ConfigException) e).problems()).anySatisfy(p -> assertThat(p).contains("$.providers.p.type"))
                        .anySatisfy(p -> assertThat(p).contains("model"))
                        .anySatisfy(p -> assertThat(p).contains("timeout"))
                        .anySatisfy(p -> assertThat(p).contains("extra")));
    }

    @Test
    void brokenReferencesAndDuplicatesAreRefused() {
        assertThatThrownBy(() -> loader.parse("test", """
                providers:
                  mock: { type: mock }
                models:
                  - { name: m, deployments: [ { provider: ghost, model: x } ] }
                  - { name: m, deployments: [ { provider: mock, model: x } ] }
                keys:
                  - { id: k, sha256: "%s", models: [unknown-model] }
                """.formatted("b".repeat(64)))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("provider 'ghost' is not defined")
                .hasMessageContaining("'m' is defined twice")
                .hasMessageContaining("model 'unknown-model' is not defined");
    }

    @Test
    void notYamlAtAll() {
        assertThatThrownBy(() -> loader.parse("test", "providers: [unclosed")).isInstanceOf(ConfigException.class)
                .hasMessageContaining("not valid YAML");
    }
}
