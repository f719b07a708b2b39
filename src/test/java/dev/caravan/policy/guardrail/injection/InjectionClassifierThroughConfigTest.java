package dev.caravan.policy.guardrail.injection;

import dev.caravan.TestGateway;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An operator's ONNX classifier named in {@code guardrails.policies.*.injection.classifier} is loaded from its paths
 * and consulted on every request: the tiny hand-built classifier of {@link InjectionOnnxClassifierTest} (its
 * probability is somewhere in (0, 1)) refuses a plain question at threshold 0, which no rule would.
 */
class InjectionClassifierThroughConfigTest {

    @TempDir
    Path dir;

    @Test
    void theConfiguredClassifierDecidesAfterTheRules() throws Exception {
        Path model = Files.write(dir.resolve("tiny.onnx"), InjectionOnnxClassifierTest.TinyClassifier.bytes());
        Path tokenizer = dir.resolve("tokenizer.json");
        try (InputStream in = getClass().getClassLoader().getResourceAsStream("all-minilm-l6-v2-q-tokenizer.json")) {
            Files.write(tokenizer, in.readAllBytes());
        }
        try (TestGateway gateway = TestGateway.start(TestGateway.MOCK_CONFIG + """
                guardrails:
                  default: strict
                  policies:
                    strict:
                      injection: { input: block, semantic: false, classifier: { model: "%s", tokenizer: "%s", threshold: 0.0 } }
                """.formatted(model, tokenizer))) {
            HttpResponse<String> refused = gateway.post("/v1/chat/completions",
                    "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France?\"}]}",
                    "authorization", "Bearer " + TestGateway.DEMO_KEY);
            assertThat(refused.statusCode()).isEqualTo(400);
            assertThat(refused.body()).contains("guardrail_blocked", "classifier");
        }
    }

    @Test
    void aClassifierPathThatCannotBeReadIsRefusedAtLoadNamingTheField() throws Exception {
        Path missing = dir.resolve("none.onnx");
        Throwable failure = org.assertj.core.api.Assertions.catchThrowable(() -> TestGateway.start(TestGateway.MOCK_CONFIG + """
                guardrails:
                  policies:
                    p: { injection: { input: block, classifier: { model: "%s", tokenizer: "%s" } } }
                """.formatted(missing, missing)).close());
        assertThat(failure).isNotNull();
        assertThat(failure.toString() + (failure.getCause() == null ? "" : failure.getCause().toString()))
                .contains("guardrails.policies.p.injection.classifier.model");
    }
}
