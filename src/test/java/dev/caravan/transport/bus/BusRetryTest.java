package dev.caravan.transport.bus;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.TestGateway;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.Json;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A bus message whose call fails transiently is tried again (bus.redeliveries), and each try is a request of its own
 * in the books: its own request id, access-log line and ledger row, so the try that answered is charged, never lost
 * under the first try's id.
 */
class BusRetryTest {

    private static final String BROKE_KEY = "sk-bus-retry-broke-0123456789";
    private static MockWebServer upstream;

    private static String sha256(String key) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(key.getBytes(StandardCharsets.UTF_8)));
    }

    private static BusReply send(String id, String key) {
        Exchange exchange = new DefaultExchange(gateway.caravan().context());
        exchange.setProperty(ExchangeKeys.BUS_MESSAGE, new BusMessage("amqp", id, Map.of("caravan-api-key", key),
                "{\"model\":\"flaky\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}".getBytes(StandardCharsets.UTF_8), true));
        return producer.send("direct:bus-request", exchange).getProperty(ExchangeKeys.BUS_REPLY, BusReply.class);
    }
    private static TestGateway gateway;
    private static ProducerTemplate producer;

    @BeforeAll
    static void start() throws Exception {
        upstream = new MockWebServer();
        upstream.start();
        gateway = TestGateway.start("""
                providers:
                  local: { type: openai-compatible, baseUrl: "%s" }
                routing: { retries: 0 }
                models:
                  - name: flaky
                    deployments: [ { id: flaky, provider: local, model: flaky-model, price: { input: 1000, output: 2000 } } ]
                keys:
                  - id: demo
                    sha256: bd064c47a07f5e297c4d7198b05c97024eae96d2a4d18612def78da7f1307af4
                  - id: broke
                    sha256: "%s"
                    budget: { usd: 0, period: 1d }
                bus:
                  redeliveries: 2
                """.formatted(upstream.url("/v1").toString(), sha256(BROKE_KEY)));
        producer = gateway.caravan().context().createProducerTemplate();
    }

    @AfterAll
    static void stop() throws Exception {
        producer.close();
        gateway.close();
        upstream.shutdown();
    }

    @Test
    void aTransientFailureIsTriedAgainAndTheTryThatAnsweredIsCharged() throws Exception {
        upstream.enqueue(new MockResponse().setResponseCode(503).setHeader("Content-Type", "application/json")
                .setBody("{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}"));
        upstream.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"flaky-model",
                 "choices":[{"index":0,"message":{"role":"assistant","content":"second time lucky"},"finish_reason":"stop"}],
                 "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}"""));
        Exchange exchange = new DefaultExchange(gateway.caravan().context());
        exchange.setProperty(ExchangeKeys.BUS_MESSAGE, new BusMessage("amqp", "retry-1",
                Map.of("caravan-api-key", TestGateway.DEMO_KEY),
                "{\"model\":\"flaky\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}".getBytes(StandardCharsets.UTF_8), true));
        BusReply reply = producer.send("direct:bus-request", exchange).getProperty(ExchangeKeys.BUS_REPLY, BusReply.class);

        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.deadLetter()).isNull();
        assertThat(Json.parseObjectOrNull(reply.body()).path("choices").get(0).path("message").path("content").asText())
                .isEqualTo("second time lucky");
        assertThat(upstream.getRequestCount()).isEqualTo(2);
        // 10 x $1000/M + 5 x $2000/M
        assertThat(reply.properties()).containsEntry(BusReply.COST, "0.02");

        // two requests in the ledger: the 503 and the answer, each under its own id; the reply names the answer's
        List<JsonNode> rows = new ArrayList<>();
        TestGateway.eventually(() -> {
            rows.clear();
            JsonNode list = Json.parseObjectOrNull(gateway.get("/admin/requests?limit=100", "Authorization",
                    "Bearer " + TestGateway.MASTER_KEY).body());
            list.path("data").forEach(rows::add);
            return rows.size() == 2;
        }, "two ledger rows, one per try");
        assertThat(rows).extracting(r -> r.path("status").asInt()).containsExactlyInAnyOrder(503, 200);
        JsonNode answered = rows.stream().filter(r -> r.path("status").asInt() == 200).findFirst().orElseThrow();
        assertThat(answered.path("id").asText()).isEqualTo(reply.properties().get(BusReply.REQUEST_ID));
        assertThat(rows.get(0).path("id").asText()).isNotEqualTo(rows.get(1).path("id").asText());
        JsonNode spend = Json.parseObjectOrNull(gateway.get("/admin/spend?group_by=ingress", "Authorization",
                "Bearer " + TestGateway.MASTER_KEY).body());
        assertThat(spend.path("data").get(0).path("ingress").asText()).isEqualTo("amqp");
        assertThat(spend.path("total").path("cost_usd").decimalValue()).isEqualByComparingTo(new BigDecimal("0.02"));
    }

    @Test
    void aSpentBudgetIsAnErrorReplyAtOnceNotTriedAgainNorDeadLettered() {
        int calls = upstream.getRequestCount();
        long start = System.nanoTime();
        BusReply reply = send("broke-1", BROKE_KEY);
        assertThat(reply.status()).isEqualTo(429);
        assertThat(Json.parseObjectOrNull(reply.body()).path("error").path("code").asText()).isEqualTo("budget_exceeded");
        assertThat(reply.deadLetter()).isNull();
        assertThat(java.time.Duration.ofNanos(System.nanoTime() - start)).isLessThan(java.time.Duration.ofMillis(900));
        assertThat(upstream.getRequestCount()).isEqualTo(calls);
    }
}
