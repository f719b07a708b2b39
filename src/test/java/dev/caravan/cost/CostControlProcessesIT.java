package dev.caravan.cost;

import dev.caravan.GatewayProcess;
import dev.caravan.core.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.caravan.cost.CostFixtures.sha;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What only real processes show (failsafe, after package; the jar via bin/caravan): two replicas on one Redis and
 * one PostgreSQL enforce one limit and one budget, and a restart with Redis emptied still finds the budget spent (the
 * ledger rebuilds it); 10,000 requests with a SIGTERM in the middle leave exactly one ledger row, at the right cost,
 * for every request that was answered.
 */
class CostControlProcessesIT {

    static final String BODY = "{\"model\":\"priced\",\"max_completion_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";

    static final String CONFIG = """
            providers:
              mock: { type: mock }
            models:
              - name: priced
                deployments: [ { provider: mock, model: priced, price: { input: 1000, output: 1000 } } ]
            keys:
              - { id: replicated-rpm, sha256: "%s", limits: { rpm: 10 } }
              - { id: replicated-budget, sha256: "%s", budget: { usd: 0.3, period: 1d } }
              - { id: load, sha256: "%s" }
            """.formatted(sha("k-rep-rpm"), sha("k-rep-budget"), sha("k-load"));

    @Test
    void twoReplicasOnOneRedisAndPostgresEnforceOneLimitAndOneBudgetThatSurvivesARestart(@TempDir Path dir) throws Exception {
        String db = "caravan_it_" + Long.toHexString(System.nanoTime());
        sql("jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres", "CREATE DATABASE " + db);
        String jdbc = "jdbc:postgresql://127.0.0.1:5432/" + db + "?user=postgres";
        String redis = "redis://127.0.0.1:6379/12";
        redisCli("-n", "12", "FLUSHDB");
        Map<String, String> env = Map.of("CARAVAN_REDIS_URL", redis, "CARAVAN_DB_URL", jdbc);
        try {
            BigDecimal spent = BigDecimal.ZERO;
            BigDecimal each = BigDecimal.ZERO;
            try (GatewayProcess a = GatewayProcess.start(dir, "a", CONFIG, env);
                 GatewayProcess b = GatewayProcess.start(dir, "b", CONFIG, env)) {
                CostFixtures.awaitFreshMinute();
                int answered = 0;
                for (int i = 0; i < 10; i++) {
                    answered += (i % 2 == 0 ? a : b).post("/v1/chat/completions", BODY, "k-rep-rpm").statusCode() == 200 ? 1 : 0;
                }
                assertThat(answered).isEqualTo(10);
                assertThat(a.post("/v1/chat/completions", BODY, "k-rep-rpm").statusCode()).isEqualTo(429);
                assertThat(b.post("/v1/chat/completions", BODY, "k-rep-rpm").statusCode()).isEqualTo(429);

                for (int i = 0; i < 60; i++) {
                    HttpResponse<String> r = (i % 2 == 0 ? a : b).post("/v1/chat/completions", BODY, "k-rep-budget");
                    if (r.statusCode() != 200) {
                        assertThat(Json.parseObjectOrNull(r.body()).path("error").path("code").asText()).isEqualTo("budget_exceeded");
                        break;
                    }
                    each = new BigDecimal(r.headers().firstValue("x-caravan-cost-usd").orElseThrow());
                    spent = spent.add(each);
                }
                assertThat(spent).as("one budget for both replicas").isLessThanOrEqualTo(new BigDecimal("0.3").add(each))
                        .isGreaterThanOrEqualTo(new BigDecimal("0.3").subtract(each));
            }
            assertThat(CostFixtures.ledgerSpend(jdbc, "replicated-budget")).isEqualByComparingTo(spent);

            // Redis loses everything (a restart without persistence); the ledger still knows what was spent
            redisCli("-n", "12", "FLUSHDB");
            try (GatewayProcess again = GatewayProcess.start(dir, "again", CONFIG, env)) {
                HttpResponse<String> r = again.post("/v1/chat/completions", BODY, "k-rep-budget");
                assertThat(r.statusCode()).as(r.body()).isEqualTo(429);
                assertThat(Json.parseObjectOrNull(r.body()).path("error").path("code").asText()).isEqualTo("budget_exceeded");
            }
        } finally {
            sql("jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres", "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            redisCli("-n", "12", "FLUSHDB");
        }
    }

    @Test
    void tenThousandRequestsWithASigtermInTheMiddleLeaveOneRowPerAnsweredRequestAtItsCost(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        Map<String, String> env = Map.of("CARAVAN_DATA_DIR", data.toString());
        Map<String, BigDecimal> answered = new ConcurrentHashMap<>();
        AtomicInteger sent = new AtomicInteger();
        GatewayProcess first = GatewayProcess.start(dir, "first", CONFIG, env);
        load(first, 10_000, 16, sent, answered, () -> {
            if (answered.size() >= 3_000) {
                new Thread(() -> {
                    try {
                        first.terminate();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }).start();
                return true;
            }
            return false;
        });
        first.close();
        int beforeRestart = answered.size();
        assertThat(beforeRestart).isBetween(3_000, 9_999);
        // the rest on a restarted gateway, on the same ledger
        try (GatewayProcess second = GatewayProcess.start(dir, "second", CONFIG, env)) {
            load(second, 10_000 - sent.get(), 16, sent, answered, () -> false);
        }
        String jdbc = "jdbc:h2:file:" + data.toAbsolutePath().resolve("caravan") + ";USER=sa";
        Map<String, Long> rows = new HashMap<>();
        try (Connection c = DriverManager.getConnection(jdbc);
             ResultSet rs = c.createStatement().executeQuery("SELECT request_id, cost_nanos, status FROM spend_ledger WHERE key_id = 'load'")) {
            while (rs.next()) {
                assertThat(rows.put(rs.getString(1), rs.getLong(2))).as("one row per request").isNull();
            }
        }
        assertThat(sent.get()).isEqualTo(10_000);
        for (Map.Entry<String, BigDecimal> a : answered.entrySet()) {
            assertThat(rows).as("every answered request is in the ledger").containsKey(a.getKey());
            assertThat(BigDecimal.valueOf(rows.get(a.getKey())).movePointLeft(9)).isEqualByComparingTo(a.getValue());
        }
        assertThat(rows.size()).as("no row for a request that was never answered").isLessThanOrEqualTo(10_000);
        System.out.printf("SIGTERM after %d answers; %d answered in all, %d ledger rows%n", beforeRestart, answered.size(), rows.size());
    }

    /** Sends up to {@code count} requests, {@code concurrency} at a time, until {@code stop} says so. */
    private static void load(GatewayProcess gateway, int count, int concurrency, AtomicInteger sent,
                             Map<String, BigDecimal> answered, java.util.function.BooleanSupplier stop) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
        Semaphore slots = new Semaphore(concurrency);
        boolean stopping = false;
        for (int i = 0; i < count && !stopping; i++) {
            slots.acquire();
            sent.incrementAndGet();
            HttpRequest request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
                    .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer k-load")
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(BODY)).build();
            CompletableFuture<HttpResponse<String>> call = http.sendAsync(request, HttpResponse.BodyHandlers.ofString());
            call.whenComplete((r, e) -> {
                if (r != null && r.statusCode() == 200) {
                    answered.put(r.headers().firstValue("x-caravan-request-id").orElseThrow(),
                            new BigDecimal(r.headers().firstValue("x-caravan-cost-usd").orElseThrow()));
                }
                slots.release();
            });
            stopping = stop.getAsBoolean();
        }
        slots.acquire(concurrency); // every call in flight has finished
        slots.release(concurrency);
    }


    static void sql(String url, String statement) throws Exception {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.execute(statement);
        }
    }

    static void redisCli(String... args) throws Exception {
        String[] command = new String[args.length + 1];
        command[0] = "redis-cli";
        System.arraycopy(args, 0, command, 1, args.length);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        assertThat(p.waitFor()).as("redis-cli " + String.join(" ", args)).isZero();
    }
}
