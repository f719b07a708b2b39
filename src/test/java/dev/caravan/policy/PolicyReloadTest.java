package dev.caravan.policy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.TestGateway;
import dev.caravan.stream.StreamHook;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import static org.assertj.core.api.Assertions.assertThat;

/** The chain follows config reloads; a key switches a policy off; a stream in flight keeps the hooks it started with. */
class PolicyReloadTest {

    static final String AUTH = "Bearer " + TestGateway.MASTER_KEY;
    static final String CHAT = "{\"model\":\"mock-slow\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    static final java.net.http.HttpClient HTTP = java.net.http.HttpClient.newBuilder()
            .version(java.net.http.HttpClient.Version.HTTP_1_1).build();
    static TestGateway gateway;

    /** Refuses every request with "refuse" in it; upper-cases every streamed chunk. */
    static final class Strict implements Policy {
        @Override
        public CompletionStage<Decision> before(PolicyCall call) {
            return call.request().path("messages").toString().contains("refuse")
                    ? CompletableFuture.completedFuture(Decision.refuse(GatewayException.forbidden("strict", "Strict says no.")))
                    : CONTINUE;
        }

        @Override
        public StreamHook onStream(PolicyCall call) {
            return (chunk, out) -> {
                for (var choice : chunk.path("choices")) {
                    if (choice.path("delta").hasNonNull("content")) {
                        ((ObjectNode) choice.get("delta")).put("content",
                                choice.path("delta").path("content").asText().toUpperCase(Locale.ROOT));
                    }
                }
                out.emit(chunk);
            };
        }
    }

    /** The mock config with {@code policies} before the models; the demo key switches strict off when it is listed. */
    static String config(String policies) {
        String keySwitch = policies.contains("strict") ? "\n    policies: { strict: false }" : "";
        return TestGateway.MOCK_CONFIG.replace("models: [mock-gpt]", "models: [mock-gpt, mock-slow]" + keySwitch)
                .replace("models:\n", policies + "models:\n");
    }

    @BeforeAll
    static void start() throws Exception {
        PolicyRegistry.shared().register("strict", settings -> new Strict());
        gateway = TestGateway.start(config("policies: [ strict ]\n"));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    static int status(String text, String key) {
        return gateway.post("/v1/chat/completions", CHAT.replace("hi", text), "Authorization", "Bearer " + key).statusCode();
    }


    @Test
    void theChainFollowsReloadsAndAStreamKeepsTheHooksItStartedWith() throws Exception {
        assertThat(status("refuse", TestGateway.MASTER_KEY)).isEqualTo(403);
        assertThat(status("refuse", TestGateway.DEMO_KEY)).as("switched off for the demo key").isEqualTo(200);

        // a slow stream starts under the strict chain; the chain is gone before it ends
        HttpResponse<InputStream> stream = HTTP.send(gateway.request("/v1/chat/completions", "Authorization", AUTH)
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(CHAT.replace("\"messages\"", "\"stream\":true,\"messages\""))).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        Files.writeString(gateway.configFile(), config(""));
        TestGateway.eventually(() -> status("refuse", TestGateway.MASTER_KEY) == 200, "the chain without the policy serves");
        String events = new String(stream.body().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(events).contains("[DONE]");
        java.util.regex.Matcher content = java.util.regex.Pattern.compile("\"content\":\"([^\"]*)\"").matcher(events);
        StringBuilder text = new StringBuilder();
        while (content.find()) {
            text.append(content.group(1));
        }
        assertThat(text.toString()).as("every chunk upper-cased").matches(".*[A-Z].*").isEqualTo(text.toString().toUpperCase(Locale.ROOT));

        // a name nothing is registered under is refused; the running chain stays
        double failures = gateway.metric("caravan_config_reload_total{kind=\"config\",result=\"failure\"}");
        Files.writeString(gateway.configFile(), config("policies: [ no-such-policy ]\n"));
        TestGateway.eventually(() -> gateway.metric("caravan_config_reload_total{kind=\"config\",result=\"failure\"}") > failures,
                "the refusal is counted");
        assertThat(status("refuse", TestGateway.MASTER_KEY)).isEqualTo(200);

        Files.writeString(gateway.configFile(), config("policies: [ strict ]\n"));
        TestGateway.eventually(() -> status("refuse", TestGateway.MASTER_KEY) == 403, "the policy is back");
    }
}
