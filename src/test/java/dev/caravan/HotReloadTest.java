package dev.caravan;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/** Edits to config/gateway.yaml and routes/ apply while the gateway serves; invalid edits are refused whole. */
class HotReloadTest {

    static final String AUTH = "Bearer " + TestGateway.MASTER_KEY;
    static final String CHAT = "{\"model\":\"assistant\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    static TestGateway gateway;

    static String config(String provider) {
        return """
                providers:
                  blue: { type: mock }
                  green: { type: mock }
                  slow: { type: mock, latency: 1500ms }
                  broken: { type: mock, failureRate: 1.0 }
                models:
                  - name: broken
                    retries: 0
                    breaker: { window: 2, minimumCalls: 2, openDuration: 10m }
                    deployments: [ { id: broken-one, provider: broken, model: b } ]
                  - name: assistant
                    deployments: [ { provider: %s, model: assistant } ]
                  - name: slow
                    deployments: [ { provider: slow, model: slow } ]
                """.formatted(provider);
    }

    /** {@link #config} plus the demo key, allowed the assistant model. */
    static String configWithKey(String provider) {
        return config(provider) + """
                keys:
                  - { id: demo, sha256: bd064c47a07f5e297c4d7198b05c97024eae96d2a4d18612def78da7f1307af4, models: [assistant] }
                """;
    }

    static int demoKeyStatus() {
        return gateway.post("/v1/chat/completions", CHAT, "Authorization", "Bearer " + TestGateway.DEMO_KEY).statusCode();
    }

    static final String CONFIG_FAILURES = "caravan_config_reload_total{kind=\"config\",result=\"failure\"}";
    static final String CONFIG_SUCCESSES = "caravan_config_reload_total{kind=\"config\",result=\"success\"}";

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start(config("blue"));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    static String deployment() {
        HttpResponse<String> r = gateway.post("/v1/chat/completions", CHAT, "Authorization", AUTH);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return r.headers().firstValue("x-caravan-deployment").orElseThrow();
    }


    @Test
    void configEditTakesEffectAndAnInvalidEditKeepsTheOldConfigServing() throws Exception {
        assertThat(deployment()).isEqualTo("blue-assistant");

        Files.writeString(gateway.configFile(), config("green"));
        TestGateway.eventually(() -> deployment().equals("green-assistant"), "the new deployment serves");
        assertThat(gateway.metric("caravan_config_reload_total{kind=\"config\",result=\"success\"}")).isGreaterThanOrEqualTo(1);

        // a schema violation (unknown provider type) and a broken reference: both refused, green keeps serving
        Files.writeString(gateway.configFile(), config("green").replace("type: mock }", "type: magic }"));
        TestGateway.eventually(() -> gateway.metric("caravan_config_reload_total{kind=\"config\",result=\"failure\"}") >= 1, "the refusal is counted");
        assertThat(deployment()).isEqualTo("green-assistant");

        Files.writeString(gateway.configFile(), config("nowhere"));
        TestGateway.eventually(() -> gateway.metric("caravan_config_reload_total{kind=\"config\",result=\"failure\"}") >= 2, "the refusal is counted");
        assertThat(deployment()).isEqualTo("green-assistant");
        assertThat(gateway.get("/health/ready").statusCode()).isEqualTo(200);

        Files.writeString(gateway.configFile(), config("blue"));
        TestGateway.eventually(() -> deployment().equals("blue-assistant"), "a valid edit after a refused one applies");
    }

    @Test
    void breakerStateSurvivesReloadsAndTheDeploymentTemplateReloadRestampsItsRoutes() throws Exception {
        for (int i = 0; i < 2; i++) {
            gateway.post("/v1/chat/completions", CHAT.replace("assistant", "broken"), "Authorization", AUTH);
        }
        String open = "\"id\":\"broken-one\",\"provider\":\"broken\",\"model\":\"b\",\"state\":\"open\"";
        assertThat(gateway.healthDeployments()).contains(open);

        // the deployment template gains a step: every deployment route is stamped again, the breaker is not reset
        Path template = gateway.routesDir().resolve("deployment.camel.yaml");
        String original = Files.readString(template);
        Files.writeString(template, original.replace("          - process: { ref: upstreamCall }",
                "          - setHeader:\n              name: x-caravan-template\n              constant: v2\n          - process: { ref: upstreamCall }"));
        TestGateway.eventually(() -> "v2".equals(gateway.post("/v1/chat/completions", CHAT, "Authorization", AUTH)
                .headers().firstValue("x-caravan-template").orElse(null)), "the new template serves");
        assertThat(gateway.healthDeployments()).contains(open);

        // a config reload that keeps the deployment keeps its breaker too
        double reloads = gateway.metric("caravan_config_reload_total{kind=\"config\",result=\"success\"}");
        Files.writeString(gateway.configFile(), Files.readString(gateway.configFile()) + "\n# touched\n");
        TestGateway.eventually(() -> gateway.metric("caravan_config_reload_total{kind=\"config\",result=\"success\"}") > reloads, "reloaded");
        assertThat(gateway.healthDeployments()).contains(open);
        HttpResponse<String> refused = gateway.post("/v1/chat/completions", CHAT.replace("assistant", "broken"), "Authorization", AUTH);
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(refused.body()).contains("no_deployment_available");

        Files.writeString(template, original);
        TestGateway.eventually(() -> gateway.post("/v1/chat/completions", CHAT, "Authorization", AUTH)
                .headers().firstValue("x-caravan-template").isEmpty(), "the original template serves again");
    }

    @Test
    void routeEditTakesEffectAndBrokenRouteFilesAreRefused() throws Exception {
        Path routeFile = gateway.routesDir().resolve("route.camel.yaml");
        String original = Files.readString(routeFile);
        String withProbe = original.replace("      steps:\n",
                "      steps:\n        - setHeader:\n            name: x-caravan-probe\n            constant: v2\n");
        assertThat(withProbe).isNotEqualTo(original);

        // a request in flight in the call step while that step's file is replaced still finishes
        Path callFile = gateway.routesDir().resolve("call.camel.yaml");
        double successes = gateway.metric("caravan_config_reload_total{kind=\"routes\",result=\"success\"}");
        CompletableFuture<HttpResponse<String>> inFlight = CompletableFuture.supplyAsync(() -> gateway.post(
                "/v1/chat/completions", CHAT.replace("assistant", "slow"), "Authorization", AUTH));
        Thread.sleep(400);
        Files.writeString(callFile, Files.readString(callFile) + "\n# edited while a call was in flight\n");
        TestGateway.eventually(() -> gateway.metric("caravan_config_reload_total{kind=\"routes\",result=\"success\"}") >= successes + 1, "reloaded");
        HttpResponse<String> finished = inFlight.get();
        assertThat(finished.statusCode()).as(finished.body()).isEqualTo(200);
        assertThat(finished.headers().firstValue("x-caravan-deployment")).hasValue("slow-slow");

        Files.writeString(routeFile, withProbe);
        TestGateway.eventually(() -> "v2".equals(gateway.post("/v1/chat/completions", CHAT, "Authorization", AUTH)
                .headers().firstValue("x-caravan-probe").orElse(null)), "the edited route serves");

        // YAML that does not parse: refused, the edited route keeps serving
        double failures = gateway.metric("caravan_config_reload_total{kind=\"routes\",result=\"failure\"}");
        Files.writeString(routeFile, withProbe + "\n  - this: [is not, valid\n");
        TestGateway.eventually(() -> gateway.metric("caravan_config_reload_total{kind=\"routes\",result=\"failure\"}") >= failures + 1, "refused");
        assertThat(gateway.post("/v1/chat/completions", CHAT, "Authorization", AUTH).headers().firstValue("x-caravan-probe")).hasValue("v2");

        // parses, but cannot start (no such component): refused, the previous route comes back
        Files.writeString(routeFile, withProbe.replace("- bean: { ref: modelRouter, method: route }",
                "- to: nosuchcomponent:anywhere"));
        TestGateway.eventually(() -> gateway.metric("caravan_config_reload_total{kind=\"routes\",result=\"failure\"}") >= failures + 2, "refused");
        HttpResponse<String> after = gateway.post("/v1/chat/completions", CHAT, "Authorization", AUTH);
        assertThat(after.statusCode()).as(after.body()).isEqualTo(200);
        assertThat(after.headers().firstValue("x-caravan-probe")).hasValue("v2");
        assertThat(gateway.get("/health/ready").statusCode()).isEqualTo(200);

        Files.writeString(routeFile, original);
        TestGateway.eventually(() -> gateway.post("/v1/chat/completions", CHAT, "Authorization", AUTH)
                .headers().firstValue("x-caravan-probe").isEmpty(), "the original route serves again");
    }

    @Test
    void schemaValidValuesThatWouldFailLaterAreRefusedAndTheWatcherAppliesTheNextEdit() throws Exception {
        Files.writeString(gateway.configFile(), configWithKey("blue"));
        TestGateway.eventually(() -> demoKeyStatus() == 200, "the demo key is configured");

        // each edit also drops the demo key: refused whole, so the key keeps working
        String[] badEdits = {
                config("blue").replace("  - name: assistant\n", "  - name: assistant\n    timeout: 99999999999999999999s\n"),
                config("blue").replace("  - name: assistant\n", "  - name: assistant\n    deadline: 9223372036854775807h\n"),
                config("blue").replace("  - name: assistant\n", "  - name: assistant\n    deadline: 9223372036854775807d\n"),
                // fits a Duration but not in nanoseconds, which is how the call uses it
                config("blue").replace("  - name: assistant\n", "  - name: assistant\n    timeout: 9223372036854775807ms\n"),
                config("blue").replace("model: assistant }", "model: \"assistant?v=2\" }"),
                config("blue").replace("  blue: { type: mock }\n",
                        "  blue: { type: mock }\n  local: { type: openai-compatible, baseUrl: \"http://local host:8000/v1\" }\n"),
                config("blue").replace("model: assistant }", "model: assistant, weight: 99999999999 }"),
                config("blue").replace("openDuration: 10m", "openDuration: 0ms"),
        };
        for (String bad : badEdits) {
            double failures = gateway.metric(CONFIG_FAILURES);
            Files.writeString(gateway.configFile(), bad);
            TestGateway.eventually(() -> gateway.metric(CONFIG_FAILURES) == failures + 1, "the refusal is counted: " + bad);
            assertThat(demoKeyStatus()).as(bad).isEqualTo(200);
            assertThat(deployment()).isEqualTo("blue-assistant");
            HttpResponse<String> ready = gateway.get("/health/ready");
            assertThat(ready.statusCode()).isEqualTo(200);
            assertThat(ready.body()).contains("\"lastReload\":\"failed: gateway.yaml at ");
        }

        // the watcher lives on: a valid edit that removes the key applies, and the key is refused from then on
        double successes = gateway.metric(CONFIG_SUCCESSES);
        Files.writeString(gateway.configFile(), config("blue"));
        TestGateway.eventually(() -> demoKeyStatus() == 401, "the key removed by a valid edit is refused");
        assertThat(gateway.metric(CONFIG_SUCCESSES)).isEqualTo(successes + 1);
        assertThat(gateway.get("/health/ready").body()).contains("\"lastReload\":\"ok\"");
    }

    @Test
    void aDeploymentTemplateThatCannotBeStampedIsRefusedAndTheOldTemplateKeepsServing() throws Exception {
        Path template = gateway.routesDir().resolve("deployment.camel.yaml");
        String original = Files.readString(template);
        String broken = original.replace("uri: \"direct:deployment-{{deploymentId}}\"",
                "uri: \"direct:deployment-{{deploymentId}}?noSuchOption=true\"");
        assertThat(broken).isNotEqualTo(original);
        double failures = gateway.metric("caravan_config_reload_total{kind=\"routes\",result=\"failure\"}");
        try {
            Files.writeString(template, broken);
            TestGateway.eventually(() -> gateway.metric("caravan_config_reload_total{kind=\"routes\",result=\"failure\"}") == failures + 1,
                    "the refusal is counted");
            assertThat(deployment()).isEqualTo("blue-assistant");
            assertThat(gateway.get("/health/ready").body()).contains("\"lastReload\":\"failed: deployment.camel.yaml at ");

            // the old template is the one in use: a new deployment gets its route from it
            Files.writeString(gateway.configFile(), config("green"));
            TestGateway.eventually(() -> deployment().equals("green-assistant"), "a deployment added after the refusal serves");
        } finally {
            Files.writeString(template, original);
            Files.writeString(gateway.configFile(), config("blue"));
            TestGateway.eventually(() -> deployment().equals("blue-assistant")
                    && gateway.get("/health/ready").body().contains("\"lastReload\":\"ok\""), "back to the start");
        }
    }
}
