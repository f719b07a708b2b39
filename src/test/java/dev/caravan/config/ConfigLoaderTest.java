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
                teams:
                  search: {}
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
                """)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("$.providers.openai.apiKey: literal secrets are refused; write ${env:NAME}")
                .hasMessageNotContaining("regex").hasMessageNotContaining("sk-literal-key");
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
                .hasMessageContaining("not valid YAML at line 1, column 21: ");
        assertThatThrownBy(() -> loader.parse("test", "providers:\n  mock: { type: mock }\nmodels:\n  - name: m\n"
                + "   deployments: []\n")).isInstanceOf(ConfigException.class)
                .hasMessageContaining("not valid YAML at line 5, column 4: expected <block end>");
    }

    static String withModel(String modelLines, String deploymentLines) {
        return """
                providers:
                  mock: { type: mock }
                  openai: { type: openai, baseUrl: "https://api.openai.com/v1" }
                models:
                  - name: fine
                    deployments: [ { provider: mock, model: fine } ]
                  - name: m
                %s
                    deployments:
                      - { provider: mock, model: ok }
                      - { %s }
                """.formatted(modelLines.indent(4).stripTrailing(), deploymentLines);
    }

    static ConfigException refused(String yaml) {
        ConfigLoader l = new ConfigLoader(Map.of("OPENAI_API_KEY", "sk-from-env")::get);
        try {
            l.parse("gateway.yaml", yaml);
        } catch (ConfigException e) {
            assertThat(e.problems()).allSatisfy(p -> assertThat(p).doesNotContain("\n"));
            return e;
        }
        throw new AssertionError("accepted: " + yaml);
    }

    @Test
    void durationsThatOverflowOrLieOutsideTheirRangeAreRefusedWithTheirPath() {
        assertThat(refused(withModel("timeout: 99999999999999999999s", "provider: mock, model: x")).problems())
                .containsExactly("models[1].timeout: the duration '99999999999999999999s' is too large");
        assertThat(refused(withModel("timeout: 9223372036854775807h", "provider: mock, model: x")).getMessage())
                .contains("models[1].timeout: the duration '9223372036854775807h' is too large");
        assertThat(refused(withModel("deadline: 9223372036854775807d", "provider: mock, model: x")).getMessage())
                .contains("models[1].deadline: the duration '9223372036854775807d' is too large");
        assertThat(refused(withModel("timeout: 2h", "provider: mock, model: x")).getMessage())
                .contains("models[1].timeout: '2h' is out of range (1ms to 1h)");
        assertThat(refused(withModel("timeout: 0ms", "provider: mock, model: x")).getMessage())
                .contains("models[1].timeout: '0ms' is out of range (1ms to 1h)");
        assertThat(refused(withModel("deadline: 2d", "provider: mock, model: x")).getMessage())
                .contains("models[1].deadline: '2d' is out of range (1ms to 24h)");
        assertThat(refused(withModel("breaker: { openDuration: 0ms }", "provider: mock, model: x")).getMessage())
                .contains("models[1].breaker.openDuration: '0ms' is out of range (1ms to 24h)");
        assertThat(refused(withModel("backoff: { max: 3h }", "provider: mock, model: x")).getMessage())
                .contains("models[1].backoff.max: '3h' is out of range (0 to 1h)");
        assertThat(refused("""
                providers: { slow: { type: mock, latency: 9999999999999h } }
                routing: { deadline: 25h }
                models: [ { name: m, deployments: [ { provider: slow, model: m } ] } ]
                """).problems()).containsExactlyInAnyOrder(
                "providers.slow.latency: '9999999999999h' is out of range (0 to 1h)",
                "routing.deadline: '25h' is out of range (1ms to 24h)");
    }

    @Test
    void aDayIsADuration() throws Exception {
        GatewayConfig config = loader.parse("test", withModel("deadline: 1d", "provider: mock, model: x"));
        assertThat(config.model("m").orElseThrow().routing().deadline()).isEqualTo(Duration.ofDays(1));
    }

    @Test
    void aDefaultDeploymentIdMustMatchTheIdPattern() {
        for (String model : new String[] {"a?b", "two words", "a#b", "a{{b}}", "a%20b"}) {
            assertThat(refused(withModel("retries: 1", "provider: mock, model: \"" + model + "\"")).problems())
                    .singleElement().asString()
                    .startsWith("models[1].deployments[1].model: the default deployment id 'mock-" + model + "'")
                    .contains("explicit id");
        }
    }

    @Test
    void defaultIdsMayHoldTheSeparatorsRealModelNamesUse() throws Exception {
        GatewayConfig config = loader.parse("test", """
                providers: { mock: { type: mock } }
                models:
                  - name: m
                    deployments:
                      - { provider: mock, model: ok }
                      - { provider: mock, model: "llama3.1:8b" }
                      - { provider: mock, model: meta-llama/Llama-3-8B }
                      - { provider: mock, model: "claude-3-5-sonnet@20240620" }
                """);
        assertThat(config.model("m").orElseThrow().deployments()).extracting(DeploymentConfig::id)
                .containsExactly("mock-ok", "mock-llama3.1:8b", "mock-meta-llama/Llama-3-8B", "mock-claude-3-5-sonnet@20240620");
    }

    @Test
    void anExplicitIdLetsTheUpstreamModelHoldAnyPrintableText() throws Exception {
        GatewayConfig config = loader.parse("test", withModel("retries: 1", "id: llama, provider: mock, model: \"org/llama 3?\""));
        assertThat(config.model("m").orElseThrow().deployments().get(1).model()).isEqualTo("org/llama 3?");
        assertThat(refused(withModel("retries: 1", "id: x, provider: mock, model: \"a\\nb\"")).problems())
                .containsExactly("models[1].deployments[1].model: must not contain control characters (line breaks, tabs)");
    }

    @Test
    void baseUrlsMustBeAbsoluteHttpUrlsWithAHostAndAreNeverQuoted() {
        String[][] cases = {
                {"https://api.example.com/v 1", "is not a valid URL"},
                {"http://", "has no valid host name"},
                {"http:///v1", "has no valid host name"},
                {"http://my_host:8000/v1", "has no valid host name"},
                {"https://user:hunter2@api.example.com/v1", "must not carry credentials"},
                {"https://api.example.com/v1?x=1", "must not have a query or fragment"},
                {"http://localhost:99999/v1", "has a port above 65535"},
        };
        for (String[] c : cases) {
            ConfigException e = refused("""
                    providers: { p: { type: openai-compatible, baseUrl: "%s" } }
                    models: [ { name: m, deployments: [ { provider: p, model: m } ] } ]
                    """.formatted(c[0]));
            assertThat(e.problems()).as(c[0]).singleElement().asString().startsWith("providers.p.baseUrl: " + c[1]);
            assertThat(e.getMessage()).doesNotContain("hunter2");
        }
    }

    @Test
    void numbersThatBecomeIntsAreBounded() {
        assertThat(refused(withModel("retries: 1", "provider: mock, model: x, weight: 99999999999999999999")).getMessage())
                .contains("weight");
        assertThat(refused(withModel("breaker: { window: 2147483647 }", "provider: mock, model: x")).getMessage())
                .contains("window");
        assertThat(refused(withModel("retries: 1", "provider: mock, model: x, maxInFlight: 4294967296")).getMessage())
                .contains("maxInFlight");
    }

    @Test
    void regionLabelsAreReadAndABadOneIsRefusedWithItsField() throws Exception {
        GatewayConfig config = loader.parse("test", """
                providers: { mock: { type: mock } }
                models: [ { name: m, deployments: [ { provider: mock, model: m, region: eu-west.1 }, { provider: mock, model: n } ] } ]
                teams: { eu-team: { regions: [eu-west.1] } }
                keys: [ { id: k, sha256: "%s", team: eu-team, regions: [eu-west.1] } ]
                """.formatted("a".repeat(64)));
        assertThat(config.model("m").orElseThrow().deployments()).extracting(DeploymentConfig::region)
                .containsExactly("eu-west.1", null);
        assertThat(config.team("eu-team").orElseThrow().regions()).containsExactly("eu-west.1");
        assertThat(config.keysBySha256().get("a".repeat(64)).regions()).containsExactly("eu-west.1");

        assertThat(refused(withModel("retries: 1", "provider: mock, model: x, region: \"eu west\"")).problems())
                .containsExactly("$.models[1].deployments[1].region: does not match the regex pattern ^[A-Za-z0-9._-]+$");
        assertThat(refused("""
                providers: { mock: { type: mock } }
                models: [ { name: m, deployments: [ { provider: mock, model: m } ] } ]
                teams: { t: { regions: ["eu/west"] } }
                """).problems()).containsExactly("$.teams.t.regions[0]: does not match the regex pattern ^[A-Za-z0-9._-]+$");
        assertThat(refused("""
                providers: { mock: { type: mock } }
                models: [ { name: m, deployments: [ { provider: mock, model: m } ] } ]
                keys: [ { id: k, sha256: "%s", regions: [""] } ]
                """.formatted("a".repeat(64))).problems()).containsExactly("$.keys[0].regions[0]: does not match the regex pattern ^[A-Za-z0-9._-]+$");
    }

    @Test
    void theCompletionsFlagIsOffByDefaultAndOnlyForServersThatCanHaveTheEndpoint() throws Exception {
        GatewayConfig config = loader.parse("test", """
                providers:
                  openai: { type: openai }
                  vllm: { type: openai-compatible, baseUrl: "http://localhost:8000/v1", completions: true }
                models: [ { name: m, deployments: [ { provider: openai, model: m }, { provider: vllm, model: m } ] } ]
                """);
        assertThat(config.model("m").orElseThrow().deployments()).extracting(d -> d.provider().completions())
                .containsExactly(false, true);
        assertThat(refused("""
                providers: { p: { type: mistral, completions: true } }
                models: [ { name: m, deployments: [ { provider: p, model: m } ] } ]
                """).problems()).containsExactly(
                "providers.p.completions: only openai, azure and openai-compatible servers have /completions");
    }

    @Test
    void aSecretFileThatIsNotAFileIsAProblemNotACrash() {
        assertThat(refused("""
                providers: { p: { type: openai, apiKey: "${file:/dev/zero}" } }
                models: [ { name: m, deployments: [ { provider: p, model: m } ] } ]
                """).problems()).singleElement().asString().startsWith("providers.p.apiKey: secret file /dev/zero is not a regular file");
        assertThat(refused("""
                providers: { p: { type: openai, apiKey: "${file:/tmp/\\0x}" } }
                models: [ { name: m, deployments: [ { provider: p, model: m } ] } ]
                """).problems()).singleElement().asString().startsWith("providers.p.apiKey:");
    }
}
