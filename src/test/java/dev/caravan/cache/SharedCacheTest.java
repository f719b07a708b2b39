package dev.caravan.cache;

import dev.caravan.TestGateway;
import dev.caravan.policy.counters.RedisServerProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The cache in Redis ({@code caravan.redisUrl}, as CARAVAN_REDIS_URL sets it): two gateways share their answers;
 * with Redis gone the cache is skipped, counted, and every request still succeeds; with Redis back it serves again.
 */
class SharedCacheTest {

    static RedisServerProcess redis;
    static final String KEY = "sk-shared-" + UUID.randomUUID();
    static final String CONFIG = """
            providers:
              mock: { type: mock }
            models:
              - name: mock-gpt
                deployments: [ { provider: mock, model: mock-gpt } ]
            keys:
              - { id: shared, sha256: "%s" }
            cache:
              exact: { ttl: 10m }
            """.formatted(ExactCacheTest.sha(KEY));

    @BeforeAll
    static void startRedis() throws Exception {
        redis = RedisServerProcess.start();
    }

    @AfterAll
    static void stopRedis() throws Exception {
        redis.close();
    }

    static HttpResponse<String> ask(TestGateway gateway, String prompt) {
        return gateway.post("/v1/chat/completions",
                "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}",
                "Authorization", "Bearer " + KEY, "Content-Type", "application/json");
    }

    static String cache(HttpResponse<String> r) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return r.headers().firstValue("x-caravan-cache").orElse(null);
    }

    @Test
    void twoGatewaysShareOneCacheAndRedisGoneOnlyCostsTheHits() throws Exception {
        Map<String, String> shared = Map.of("caravan.redisUrl", redis.url());
        try (TestGateway a = TestGateway.start(CONFIG, shared); TestGateway b = TestGateway.start(CONFIG, shared)) {
            String prompt = "shared question " + UUID.randomUUID();
            assertThat(cache(ask(a, prompt))).isEqualTo("MISS");
            TestGateway.eventually(() -> "HIT".equals(cache(ask(b, prompt))), "the other gateway finds the answer in Redis");

            redis.kill();
            for (int i = 0; i < 3; i++) {
                assertThat(cache(ask(a, prompt))).as("Redis is gone: a miss, answered").isEqualTo("MISS");
            }
            assertThat(a.metric("caravan_cache_degraded")).isEqualTo(1);
            assertThat(a.metrics()).contains("caravan_cache_errors_total");

            redis.restart(); // empty: what was stored before is gone, the cache fills again
            TestGateway.eventually(() -> {
                cache(ask(a, "probe " + UUID.randomUUID())); // the store asks Redis again at most once a second
                return a.metric("caravan_cache_degraded") == 0;
            }, "the cache finds Redis again");
            String after = "after the restart " + UUID.randomUUID();
            assertThat(cache(ask(a, after))).isEqualTo("MISS");
            TestGateway.eventually(() -> "HIT".equals(cache(ask(b, after))), "the other gateway finds the new answer");
        }
    }
}
