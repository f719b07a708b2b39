package dev.caravan.cost;

import dev.caravan.TestGateway;
import dev.caravan.auth.KeyAuthenticator;

import java.math.BigDecimal;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.HexFormat;

/** Shared by the cost-control tests: key hashes, a plain chat call, and a start well inside a minute. */
final class CostFixtures {

    private CostFixtures() {
    }

    static String sha(String key) {
        return HexFormat.of().formatHex(KeyAuthenticator.sha256(key));
    }

    static HttpResponse<String> chat(TestGateway gateway, String key, String model) {
        return gateway.post("/v1/chat/completions",
                "{\"model\":\"" + model + "\",\"max_completion_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}",
                "Authorization", "Bearer " + key, "Content-Type", "application/json");
    }

    /** Rate windows are whole minutes: a test that counts to a limit starts with at least 15 s of its minute left. */
    static void awaitFreshMinute() throws InterruptedException {
        long intoMinute = System.currentTimeMillis() % 60_000;
        if (intoMinute > 45_000) {
            Thread.sleep(60_000 - intoMinute + 50);
        }
    }

    /** What the ledger holds as spent by one key, in USD. */
    static BigDecimal ledgerSpend(String jdbcUrl, String keyId) throws Exception {
        return BigDecimal.valueOf(ledgerLong(jdbcUrl, "SELECT COALESCE(SUM(cost_nanos), 0) FROM spend_ledger WHERE key_id = ?", keyId))
                .movePointLeft(9);
    }

    /** How many ledger rows one key has. */
    static long ledgerRows(String jdbcUrl, String keyId) throws Exception {
        return ledgerLong(jdbcUrl, "SELECT COUNT(*) FROM spend_ledger WHERE key_id = ?", keyId);
    }

    private static long ledgerLong(String jdbcUrl, String sql, String keyId) throws Exception {
        try (Connection c = DriverManager.getConnection(jdbcUrl); var statement = c.prepareStatement(sql)) {
            statement.setString(1, keyId);
            try (ResultSet rs = statement.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }
}
