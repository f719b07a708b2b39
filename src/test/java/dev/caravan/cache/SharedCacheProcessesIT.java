package dev.caravan.cache;

import dev.caravan.GatewayProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two gateway processes (the jar via bin/caravan; failsafe, after package) on one Redis share one cache: an answer
 * one replica stored is a hit on the other, exact and semantic, and a clear on one empties both.
 */
class SharedCacheProcessesIT {

    static final String KEY = "sk-shared-cache-key";

    static final String CONFIG = """
            providers:
              mock: { type: mock }
            models:
              - name: mock-gpt
                deployments: [ { provider: mock, model: mock-gpt, price: { input: 1, output: 1 } } ]
            keys:
              - { id: shared, sha256: "%s" }
            cache:
              exact: { ttl: 10m }
              semantic: { enabled: true }
            """.formatted(ExactCacheTest.sha(KEY));

    static String body(String prompt) {
        return "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}";
    }

    static String cache(HttpResponse<String> r) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return r.headers().firstValue("x-caravan-cache").orElse(null);
    }

    @Test
    void twoReplicasOnOneRedisShareTheirCache(@TempDir Path dir) throws Exception {
        String redis = "redis://127.0.0.1:6379/13";
        Process flush = new ProcessBuilder("redis-cli", "-n", "13", "FLUSHDB").redirectErrorStream(true).start();
        assertThat(flush.waitFor()).as("redis-cli FLUSHDB").isZero();
        Map<String, String> env = Map.of("CARAVAN_REDIS_URL", redis);
        try (GatewayProcess one = GatewayProcess.start(dir, "one", CONFIG, env);
             GatewayProcess two = GatewayProcess.start(dir, "two", CONFIG, env)) {
            String run = UUID.randomUUID().toString().substring(0, 8);
            String question = "How do I reverse a list in Python? (run " + run + ")";
            assertThat(cache(one.post("/v1/chat/completions", body(question), KEY))).isEqualTo("MISS");
            assertThat(cache(two.post("/v1/chat/completions", body(question), KEY))).isEqualTo("HIT");

            // the same question in other words: the other replica heard of the prompt and finds the answer in Redis
            String reworded = "How can I reverse a list in Python? (run " + run + ")";
            HttpResponse<String> semantic = null;
            long deadline = System.currentTimeMillis() + 10_000;
            while (System.currentTimeMillis() < deadline) {
                semantic = two.post("/v1/chat/completions", body(reworded).replace("mock-gpt\"", "mock-gpt\",\"caravan\":{\"cache\":\"no-store\"}"), KEY);
                if ("SEMANTIC".equals(cache(semantic))) {
                    break;
                }
                Thread.sleep(200);
            }
            assertThat(cache(semantic)).isEqualTo("SEMANTIC");

            HttpResponse<String> cleared = one.delete("/admin/cache", dev.caravan.TestGateway.MASTER_KEY);
            assertThat(cleared.statusCode()).isEqualTo(200);
            assertThat(cache(two.post("/v1/chat/completions", body(question), KEY))).isEqualTo("MISS");
        }
    }
}
