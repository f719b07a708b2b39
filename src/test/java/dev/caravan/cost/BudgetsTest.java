package dev.caravan.cost;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.caravan.cost.CostFixtures.sha;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * USD budgets per key and team as a client sees them: admitted while there is room, 429 budget_exceeded after,
 * never more than one request's worth over, however many requests arrive at once.
 */
class BudgetsTest {

    // $1000 per million tokens both ways: a request of t tokens costs t/1000 USD, easy to check by hand
    static final BigDecimal USD_PER_TOKEN = new BigDecimal("0.001");

    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start("""
                providers:
                  mock: { type: mock }
                models:
                  - name: priced
                    deployments: [ { provider: mock, model: priced, price: { input: 1000, output: 1000 } } ]
                teams:
                  lean: { budget: { usd: 0.1, period: 1d, alertAt: 0.05 } }
                keys:
                  - { id: probe, sha256: "%s" }
                  - { id: crowd, sha256: "%s", budget: { usd: 0.2, period: 1d } }
                  - { id: lean-member, sha256: "%s", team: lean, budget: { usd: 100, period: 1d } }
                """.formatted(sha("k-probe"), sha("k-crowd"), sha("k-lean")));
    }

    /** The crowd key's budget: about ten requests of some twenty tokens at $0.001 a token. */
    static final BigDecimal CROWD_BUDGET = new BigDecimal("0.2");

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    static BigDecimal costOf(HttpResponse<String> answer) {
        JsonNode usage = Json.parseObjectOrNull(answer.body()).path("usage");
        return USD_PER_TOKEN.multiply(BigDecimal.valueOf(usage.path("total_tokens").asLong()));
    }

    @Test
    void twoHundredConcurrentRequestsNeverSpendMoreThanOneRequestOverTheBudget() throws Exception {
        BigDecimal each = costOf(CostFixtures.chat(gateway, "k-probe", "priced"));
        assertThat(each).isPositive();
        BigDecimal budget = CROWD_BUDGET;
        int worth = budget.divide(each, 0, java.math.RoundingMode.FLOOR).intValue();
        assertThat(worth).as("the budget is worth about ten requests").isBetween(5, 20);

        ExecutorService pool = Executors.newFixedThreadPool(200);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<HttpResponse<String>>> calls = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            calls.add(pool.submit(() -> {
                go.await();
                return CostFixtures.chat(gateway, "k-crowd", "priced");
            }));
        }
        go.countDown();
        BigDecimal spent = BigDecimal.ZERO;
        int charged = 0;
        for (Future<HttpResponse<String>> call : calls) {
            HttpResponse<String> r = call.get();
            if (r.statusCode() == 200) {
                charged++;
                spent = spent.add(costOf(r));
            } else {
                assertThat(r.statusCode()).isEqualTo(429);
                assertThat(Json.parseObjectOrNull(r.body()).path("error").path("code").asText()).isEqualTo("budget_exceeded");
            }
        }
        pool.shutdown();
        // and the rest of the budget, one request at a time, until it is refused
        for (int i = 0; i < 50; i++) {
            HttpResponse<String> r = CostFixtures.chat(gateway, "k-crowd", "priced");
            if (r.statusCode() != 200) {
                break;
            }
            charged++;
            spent = spent.add(costOf(r));
        }
        assertThat(charged).isGreaterThanOrEqualTo(1).isLessThanOrEqualTo(worth + 1);
        assertThat(spent).isLessThanOrEqualTo(budget.add(each));
        HttpResponse<String> after = CostFixtures.chat(gateway, "k-crowd", "priced");
        assertThat(after.statusCode()).isEqualTo(429);
        JsonNode error = Json.parseObjectOrNull(after.body()).get("error");
        assertThat(error.get("code").asText()).isEqualTo("budget_exceeded");
        assertThat(error.get("message").asText()).contains("API key 'crowd'").contains("$0.20").contains("resets at");
        assertThat(after.headers().firstValue("retry-after")).isPresent();
    }

    @Test
    void aTeamsBudgetBindsEveryKeyInItWhateverTheKeysOwn() {
        int answered = 0;
        HttpResponse<String> last = null;
        for (int i = 0; i < 30; i++) {
            last = CostFixtures.chat(gateway, "k-lean", "priced");
            if (last.statusCode() != 200) {
                break;
            }
            answered++;
        }
        assertThat(answered).isBetween(1, 29);
        assertThat(last.statusCode()).isEqualTo(429);
        assertThat(Json.parseObjectOrNull(last.body()).path("error").path("message").asText()).contains("team 'lean'");
        assertThat(gateway.metric("caravan_budget_spend_usd{team=\"lean\"}")).isGreaterThanOrEqualTo(0.1);
        assertThat(gateway.metric("caravan_budget_refused_total{scope=\"team\"}")).isGreaterThanOrEqualTo(1);
        assertThat(gateway.metric("caravan_budget_alerts_total{scope=\"team\"}")).as("alertAt fires once per window").isEqualTo(1);
    }
}
