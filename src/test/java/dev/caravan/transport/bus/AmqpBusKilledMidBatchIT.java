package dev.caravan.transport.bus;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.caravan.GatewayProcess;
import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The packaged gateway (bin/caravan) killed with SIGKILL in the middle of a batch of 200 AMQP messages, then started
 * again, with the reply memory in Redis (CARAVAN_REDIS_URL, a key prefix of this run's own): every request message
 * ends with exactly one reply or one dead letter, and none is charged twice.
 *
 * <p>"Exactly one reply": a message whose reply was published just before the kill, but not yet acknowledged, is
 * delivered again after the restart and gets its reply again, replayed from Redis ({@code caravan-replayed: true},
 * the same body and request id): that is the same reply, and counts as one. A message whose upstream call was in
 * flight at the kill was neither answered nor charged; its redelivery calls again (at most maxInFlight such).
 */
class AmqpBusKilledMidBatchIT {

    static final String KEY = "sk-amqp-kill-it";
    static final int MESSAGES = 200;
    static final int MAX_IN_FLIGHT = 8;

    @Test
    void aGatewayKilledMidBatchAndRestartedLeavesEveryMessageWithOneReplyAndNoDoubleCharge(@TempDir Path dir) throws Exception {
        String requests = AmqpFixtures.uniqueQueue("kill");
        String dead = AmqpFixtures.uniqueQueue("kill-dlq");
        String prefix = "caravan-it-amqp-" + Long.toHexString(System.nanoTime()) + ":";
        String config = """
                providers:
                  up: { type: openai, baseUrl: "%s" }
                models:
                  - name: up
                    deployments: [ { provider: up, model: up-model, price: { input: 1000, output: 1000 } } ]
                keys:
                  - { id: amqp-kill, sha256: "%s" }
                bus:
                  amqp: { url: "amqp://%s:%d", username: guest, password: "${env:AMQP_PASSWORD}", requestQueue: %s, deadLetterQueue: %s, concurrency: 8 }
                  maxInFlight: %d
                """;
        Map<String, String> env = Map.of("CARAVAN_REDIS_URL", "redis://127.0.0.1:6379", "AMQP_PASSWORD", "guest",
                "JAVA_OPTS", "-XX:+UseParallelGC -Xms96m -Xmx256m -Dcaravan.redisPrefix=" + prefix);
        try (AmqpFixtures.Upstream upstream = new AmqpFixtures.Upstream(40);
             Connection client = AmqpFixtures.connect();
             Channel admin = client.createChannel();
             AmqpFixtures.RpcClient rpc = new AmqpFixtures.RpcClient(client)) {
            String yaml = config.formatted(upstream.baseUrl(), AmqpFixtures.sha(KEY), AmqpFixtures.HOST,
                    AmqpFixtures.PORT, requests, dead, MAX_IN_FLIGHT);
            try {
                GatewayProcess first = GatewayProcess.start(dir, "gateway", yaml, env);
                awaitBusUp(first);
                for (int i = 0; i < MESSAGES; i++) {
                    rpc.send(requests, "kill-" + i, "kill-" + i, AmqpFixtures.chat("kill " + i), "caravan-api-key", KEY);
                }
                long deadline = System.currentTimeMillis() + 30_000;
                while (rpc.received.get() < MESSAGES / 4 && System.currentTimeMillis() < deadline) {
                    Thread.sleep(5);
                }
                first.kill(); // mid-batch: about a quarter answered, eight calls in flight, the rest on the queue
                int beforeRestart = rpc.received.get();
                Set<Integer> answeredBeforeKill = new HashSet<>();
                for (int i = 0; i < MESSAGES; i++) {
                    if (!rpc.all("kill-" + i).isEmpty()) {
                        answeredBeforeKill.add(i);
                    }
                }
                assertThat(beforeRestart).as("answered before the kill").isBetween(MESSAGES / 4, MESSAGES - 1);

                // the same data directory (ledger) and Redis: the second life of the same gateway
                try (GatewayProcess second = GatewayProcess.start(dir, "gateway", yaml, env)) {
                    awaitBusUp(second);
                    Map<String, AmqpFixtures.Delivery> deadLetters = new HashMap<>();
                    deadline = System.currentTimeMillis() + 60_000;
                    while (answered(rpc) + deadLetters.size() < MESSAGES && System.currentTimeMillis() < deadline) {
                        com.rabbitmq.client.GetResponse r = admin.basicGet(dead, true);
                        if (r != null) {
                            deadLetters.put(r.getProps().getMessageId(), new AmqpFixtures.Delivery(r.getProps(), r.getBody()));
                        } else {
                            Thread.sleep(50);
                        }
                    }
                    Thread.sleep(500); // a late duplicate would arrive now
                    assertThat(deadLetters).as("no message fails here").isEmpty();

                    Set<String> replyRequestIds = new HashSet<>();
                    int replayed = 0;
                    for (int i = 0; i < MESSAGES; i++) {
                        List<AmqpFixtures.Delivery> replies = rpc.all("kill-" + i);
                        assertThat(replies).as("replies to kill-%d", i).isNotEmpty();
                        AmqpFixtures.Delivery one = replies.get(0);
                        assertThat(one.header("caravan-status")).isEqualTo("200");
                        for (AmqpFixtures.Delivery again : replies.subList(1, replies.size())) {
                            // the same reply again: body and request id as the first, marked replayed
                            assertThat(again.text()).isEqualTo(one.text());
                            assertThat(again.header("caravan-request-id")).isEqualTo(one.header("caravan-request-id"));
                            assertThat(again.header("caravan-replayed")).isEqualTo("true");
                            replayed++;
                        }
                        replyRequestIds.add(one.header("caravan-request-id"));
                        assertThat(upstream.callsFor("kill " + i)).as("calls for kill-%d", i)
                                .isBetween(1, answeredBeforeKill.contains(i) ? 1 : 2); // answered: remembered
                    }
                    int calledTwice = (int) java.util.stream.IntStream.range(0, MESSAGES)
                            .filter(i -> upstream.callsFor("kill " + i) == 2).count();
                    System.out.printf("AMQP kill IT: %d answered before the kill, %d replayed after it, %d called again"
                            + " (in flight at the kill), %d upstream calls for %d messages%n",
                            beforeRestart, replayed, calledTwice, upstream.calls.get(), MESSAGES);
                    assertThat(calledTwice).as("calls in flight at the kill, made again").isLessThanOrEqualTo(MAX_IN_FLIGHT);
                    assertThat(upstream.calls.get()).isLessThanOrEqualTo(MESSAGES + MAX_IN_FLIGHT);

                    // the ledger: one row per charged request, each the request a reply names (a call whose answer
                    // was lost at the kill and then made again would show as a row no reply names)
                    Set<String> charged = new HashSet<>();
                    int[] last = {-1};
                    TestGateway.eventually(() -> { // the ledger is written in batches: wait until it stops growing
                        charged.clear();
                        ledger(second).forEach(row -> charged.add(row.path("id").asText()));
                        boolean settled = charged.size() == last[0] && !charged.isEmpty();
                        last[0] = charged.size();
                        if (!settled) {
                            sleep(700);
                        }
                        return settled;
                    }, "the ledger has settled");
                    List<JsonNode> rows = ledger(second);
                    assertThat(rows.size()).as("ledger rows").isEqualTo(charged.size()).isLessThanOrEqualTo(MESSAGES);
                    assertThat(replyRequestIds).containsAll(charged);
                }
            } finally {
                admin.queueDelete(requests);
                admin.queueDelete(dead);
                forgetRedisKeys(prefix);
            }
        }
    }

    /** This run's replies in Redis: they would expire with bus.dedupTtl, but no run leaves them behind. */
    private static void forgetRedisKeys(String prefix) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", "redis-cli --scan --pattern '" + prefix + "*' | xargs -r redis-cli DEL")
                .redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        p.waitFor();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static int answered(AmqpFixtures.RpcClient rpc) {
        int n = 0;
        for (int i = 0; i < MESSAGES; i++) {
            n += rpc.all("kill-" + i).isEmpty() ? 0 : 1;
        }
        return n;
    }

    private static void awaitBusUp(GatewayProcess gateway) throws Exception {
        TestGateway.eventually(() -> {
            try {
                JsonNode ready = Json.parseObjectOrNull(gateway.get("/health/ready").body());
                return ready.path("checks").path("buses").path("amqp").asText().equals("UP");
            } catch (Exception e) {
                return false;
            }
        }, "the amqp bus is up");
    }

    private static List<JsonNode> ledger(GatewayProcess gateway) {
        try {
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                            URI.create(gateway.baseUrl() + "/admin/requests?limit=1000"))
                    .header("Authorization", "Bearer " + TestGateway.MASTER_KEY).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            List<JsonNode> rows = new java.util.ArrayList<>();
            Json.parseObjectOrNull(r.body()).path("data").forEach(rows::add);
            return rows;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
