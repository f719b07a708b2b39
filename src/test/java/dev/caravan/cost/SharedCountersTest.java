package dev.caravan.cost;

import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import dev.caravan.policy.counters.RedisServerProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.Map;

import static dev.caravan.cost.CostFixtures.sha;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Limits and budgets in Redis ({@code caravan.redisUrl}, as CARAVAN_REDIS_URL sets it): two gateways count against
 * one limit and one budget; with Redis gone they keep serving on local counters and say so, or refuse when told to
 * fail closed; with Redis back they count in Redis again.
 */
class SharedCountersTest {

    static RedisServerProcess redis;

    static final String CONFIG = """
            providers:
              mock: { type: mock }
            models:
              - name: priced
                deployments: [ { provider: mock, model: priced, price: { input: 1000, output: 1000 } } ]
            keys:
              - { id: shared-rpm, sha256: "%s", limits: { rpm: 6 } }
              - { id: shared-budget, sha256: "%s", budget: { usd: 0.2, period: 1d } }
              - { id: while-down, sha256: "%s", limits: { rpm: 1000 } }
            """.formatted(sha("k-shared-rpm"), sha("k-shared-budget"), sha("k-down"));

    @BeforeAll
    static void startRedis() throws Exception {
        redis = RedisServerProcess.start();
    }

    @AfterAll
    static void stopRedis() throws Exception {
        redis.close();
    }

    @Test
    void twoGatewaysOnOneRedisEnforceOneLimitAndOneBudget() throws Exception {
        Map<String, String> shared = Map.of("caravan.redisUrl", redis.url());
        try (TestGateway a = TestGateway.start(CONFIG, shared); TestGateway b = TestGateway.start(CONFIG, shared)) {
            CostFixtures.awaitFreshMinute();
            int answered = 0;
            for (int i = 0; i < 6; i++) {
                answered += CostFixtures.chat(i % 2 == 0 ? a : b, "k-shared-rpm", "priced").statusCode() == 200 ? 1 : 0;
            }
            assertThat(answered).isEqualTo(6);
            assertThat(CostFixtures.chat(a, "k-shared-rpm", "priced").statusCode()).isEqualTo(429);
            assertThat(CostFixtures.chat(b, "k-shared-rpm", "priced").statusCode()).isEqualTo(429);

            double spent = 0;
            double each = 0;
            for (int i = 0; i < 40; i++) {
                HttpResponse<String> r = CostFixtures.chat(i % 2 == 0 ? a : b, "k-shared-budget", "priced");
                if (r.statusCode() != 200) {
                    assertThat(Json.parseObjectOrNull(r.body()).path("error").path("code").asText()).isEqualTo("budget_exceeded");
                    break;
                }
                each = Double.parseDouble(r.headers().firstValue("x-caravan-cost-usd").orElseThrow());
                spent += each;
            }
            assertThat(spent).as("one budget for both: at most one request over").isBetween(0.2 - each, 0.2 + each);
            assertThat(CostFixtures.chat(a, "k-shared-budget", "priced").statusCode()).isEqualTo(429);
            assertThat(CostFixtures.chat(b, "k-shared-budget", "priced").statusCode()).isEqualTo(429);
            assertThat(a.metric("caravan_limits_degraded")).isEqualTo(0);
        }
    }

    @Test
    void withRedisGoneRequestsKeepSucceedingOnLocalCountersAndTheMetricSaysSo() throws Exception {
        try (TestGateway gateway = TestGateway.start(CONFIG, Map.of("caravan.redisUrl", redis.url()))) {
            assertThat(CostFixtures.chat(gateway, "k-down", "priced").statusCode()).isEqualTo(200);
            redis.kill();
            try {
                for (int i = 0; i < 20; i++) {
                    HttpResponse<String> r = CostFixtures.chat(gateway, "k-down", "priced");
                    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                    assertThat(r.headers().firstValue("x-ratelimit-limit-requests")).hasValue("1000");
                }
                assertThat(gateway.metric("caravan_limits_degraded")).isEqualTo(1);
            } finally {
                redis.restart();
            }
            TestGateway.eventually(() -> {
                CostFixtures.chat(gateway, "k-down", "priced");
                return gateway.metric("caravan_limits_degraded") == 0;
            }, "counting in Redis again once it is back");
        }
    }

    @Test
    void failClosedRefusesWith503WhileRedisIsGone() throws Exception {
        try (TestGateway gateway = TestGateway.start(CONFIG + "limits: { failClosed: true }\n",
                Map.of("caravan.redisUrl", redis.url()))) {
            assertThat(CostFixtures.chat(gateway, "k-down", "priced").statusCode()).isEqualTo(200);
            redis.kill();
            try {
                HttpResponse<String> r = CostFixtures.chat(gateway, "k-down", "priced");
                assertThat(r.statusCode()).isEqualTo(503);
                assertThat(Json.parseObjectOrNull(r.body()).path("error").path("code").asText()).isEqualTo("limits_unavailable");
                assertThat(r.headers().firstValue("retry-after")).hasValue("1");
            } finally {
                redis.restart();
            }
        }
    }
}
