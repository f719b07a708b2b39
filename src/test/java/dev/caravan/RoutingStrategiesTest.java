package dev.caravan;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/** Each strategy sends traffic where it says it will, seen through the x-caravan-deployment header. */
class RoutingStrategiesTest {

    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start("""
                providers:
                  fast: { type: mock }
                  slow: { type: mock, latency: 150ms }
                  sleepy: { type: mock, latency: 800ms }
                  broken: { type: mock, failureRate: 1.0, failureStatus: 500 }
                models:
                  - name: weighted
                    strategy: weighted
                    deployments: [ { id: three, provider: fast, model: w, weight: 3 }, { id: one, provider: fast, model: w, weight: 1 } ]
                  - name: least-busy
                    strategy: least-busy
                    deployments: [ { id: lb-1, provider: sleepy, model: lb }, { id: lb-2, provider: sleepy, model: lb } ]
                  - name: latency
                    strategy: latency
                    explore: 0
                    deployments: [ { id: lat-slow, provider: slow, model: l }, { id: lat-fast, provider: fast, model: l } ]
                  - name: capped
                    deployments:
                      - { id: capped-first, provider: sleepy, model: c, maxInFlight: 1 }
                      - { id: capped-second, provider: fast, model: c }
                  - name: cost
                    strategy: cost
                    retries: 2
                    breaker: { window: 2, minimumCalls: 2, openDuration: 1m }
                    deployments:
                      - { id: pricey, provider: fast, model: c, price: { input: 2.5, output: 10 } }
                      - { id: cheapest-but-down, provider: broken, model: c, price: { input: 0.05, output: 0.1 } }
                      - { id: cheap, provider: fast, model: c, price: { input: 0.15, output: 0.6 } }
                """);
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    static HttpResponse<String> chat(String model) {
        return gateway.post("/v1/chat/completions",
                "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY);
    }

    static String deployment(HttpResponse<String> r) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return r.headers().firstValue("x-caravan-deployment").orElseThrow();
    }

    @Test
    void weightedSplitFollowsTheWeightsWithinFivePoints() {
        Map<String, Integer> counts = new HashMap<>();
        for (int i = 0; i < 1000; i++) {
            counts.merge(deployment(chat("weighted")), 1, Integer::sum);
        }
        assertThat(counts.get("three") / 10.0).as("share of the weight-3 deployment, %").isBetween(70.0, 80.0);
        assertThat(counts.get("one") / 10.0).isBetween(20.0, 30.0);
    }

    @Test
    void leastBusyPicksTheDeploymentWithFewerCallsInFlight() throws Exception {
        for (int round = 0; round < 3; round++) {
            CompletableFuture<HttpResponse<String>> first = CompletableFuture.supplyAsync(() -> chat("least-busy"));
            Thread.sleep(250); // the first call is in flight on one deployment
            String second = deployment(chat("least-busy"));
            assertThat(second).isNotEqualTo(deployment(first.get()));
        }
    }

    @Test
    void aDeploymentAtItsMaxInFlightCountsAsBusyAndTheNextIsUsed() throws Exception {
        CompletableFuture<HttpResponse<String>> first = CompletableFuture.supplyAsync(() -> chat("capped"));
        Thread.sleep(250);
        HttpResponse<String> second = chat("capped");
        assertThat(deployment(second)).isEqualTo("capped-second");
        assertThat(second.headers().firstValue("x-caravan-attempts")).hasValue("1");
        assertThat(deployment(first.get())).isEqualTo("capped-first");
        assertThat(deployment(chat("capped"))).isEqualTo("capped-first"); // free again
    }

    @Test
    void latencyPicksTheFasterDeploymentOnceMeasured() {
        for (int i = 0; i < 4; i++) {
            chat("latency"); // each deployment is measured first
        }
        for (int i = 0; i < 10; i++) {
            assertThat(deployment(chat("latency"))).isEqualTo("lat-fast");
        }
    }

    @Test
    void costPicksTheCheapestHealthyDeployment() {
        for (int i = 0; i < 3; i++) {
            assertThat(deployment(chat("cost"))).isEqualTo("cheap"); // the cheapest fails and the next cheapest answers
        }
        assertThat(gateway.healthDeployments()).contains("\"id\":\"cheapest-but-down\",\"provider\":\"broken\",\"model\":\"c\",\"state\":\"open\"");
        for (int i = 0; i < 5; i++) {
            HttpResponse<String> r = chat("cost");
            assertThat(deployment(r)).isEqualTo("cheap");
            assertThat(r.headers().firstValue("x-caravan-attempts")).hasValue("1"); // the open one is not tried
        }
    }
}
