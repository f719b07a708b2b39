package dev.caravan.cost;

import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.math.BigDecimal;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Map;

import static dev.caravan.cost.CostFixtures.sha;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A restart loses no spend and resets no budget early: the ledger (H2 by default, PostgreSQL with a URL) holds every
 * request, and the next gateway rebuilds each budget's open window from it.
 */
class RestartKeepsSpendTest {

    static final String CONFIG = """
            providers:
              mock: { type: mock }
            models:
              - name: priced
                deployments: [ { provider: mock, model: priced, price: { input: 1000, output: 1000 } } ]
            teams:
              spenders: { budget: { usd: 0.15, period: 30d } }
            keys:
              - { id: spender, sha256: "%s", team: spenders, budget: { usd: 0.1, period: 1d } }
            """.formatted(sha("k-spender"));

    @Test
    void h2SpendAfterARestartEqualsSpendBeforeAndTheBudgetStaysSpent(@TempDir Path data) throws Exception {
        Map<String, String> storage = Map.of("caravan.dataDir", data.toString());
        check(storage, "jdbc:h2:file:" + data.toAbsolutePath().resolve("caravan") + ";USER=sa");
    }

    @Test
    void postgresSpendAfterARestartEqualsSpendBeforeAndTheBudgetStaysSpent() throws Exception {
        String db = "caravan_restart_" + Long.toHexString(System.nanoTime());
        try (Connection admin = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres");
             Statement s = admin.createStatement()) {
            s.execute("CREATE DATABASE " + db);
        }
        try {
            String url = "jdbc:postgresql://127.0.0.1:5432/" + db + "?user=postgres";
            check(Map.of("caravan.db.url", url), url);
        } finally {
            try (Connection admin = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres");
                 Statement s = admin.createStatement()) {
                s.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            }
        }
    }

    private static void check(Map<String, String> storage, String jdbcUrl) throws Exception {
        BigDecimal spent = BigDecimal.ZERO;
        int answered = 0;
        try (TestGateway first = TestGateway.start(CONFIG, storage)) {
            for (int i = 0; i < 30; i++) {
                HttpResponse<String> r = CostFixtures.chat(first, "k-spender", "priced");
                if (r.statusCode() != 200) {
                    assertThat(Json.parseObjectOrNull(r.body()).path("error").path("code").asText()).isEqualTo("budget_exceeded");
                    break;
                }
                answered++;
                spent = spent.add(new BigDecimal(r.headers().firstValue("x-caravan-cost-usd").orElseThrow()));
            }
            assertThat(answered).isBetween(1, 29);
        }
        // the first gateway has stopped: every row it queued is in the database
        assertThat(CostFixtures.ledgerSpend(jdbcUrl, "spender")).isEqualByComparingTo(spent);
        assertThat(CostFixtures.ledgerRows(jdbcUrl, "spender")).isEqualTo(answered + 1L); // the refusal is a row too

        try (TestGateway second = TestGateway.start(CONFIG, storage)) {
            HttpResponse<String> r = CostFixtures.chat(second, "k-spender", "priced");
            assertThat(r.statusCode()).as("the budget stays spent after a restart").isEqualTo(429);
            assertThat(Json.parseObjectOrNull(r.body()).path("error").path("code").asText()).isEqualTo("budget_exceeded");
            assertThat(BigDecimal.valueOf(second.metric("caravan_budget_spend_usd{team=\"spenders\"}")))
                    .as("the team's spend, rebuilt").isEqualByComparingTo(spent);
        }
    }


}
