package dev.caravan.audit;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.TestGateway;
import dev.caravan.auth.KeyAuthenticator;
import dev.caravan.core.Json;
import dev.caravan.policy.ledger.LedgerSettings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.StreamSupport;

import static dev.caravan.TestGateway.eventually;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The audit log as an operator meets it: budget refusals and config reloads land in it by themselves, and
 * {@code GET /admin/audit} and {@code GET /admin/audit/verify} show them and say whether anyone has edited the table.
 */
class AuditThroughTheGatewayTest {

    static Path data;
    static TestGateway gateway;

    static String sha(String key) {
        return HexFormat.of().formatHex(KeyAuthenticator.sha256(key));
    }

    static String config(String extraModel) {
        return """
                providers:
                  mock: { type: mock }
                models:
                  - name: priced
                    deployments: [ { provider: mock, model: priced, price: { input: 1000, output: 1000 } } ]
                %s
                teams:
                  lean: { budget: { usd: 0.05, period: 1d } }
                  other: { limits: { rpm: 1000 } }
                keys:
                  - { id: spender, sha256: "%s", team: lean }
                  - { id: solo, sha256: "%s", team: other, budget: { usd: 0.01, period: 1d } }
                  - { id: lean-viewer, sha256: "%s", team: lean, role: viewer }
                  - { id: lean-user, sha256: "%s", team: lean, role: user }
                """.formatted(extraModel, sha("k-spender"), sha("k-solo"), sha("k-viewer"), sha("k-user"));
    }

    @BeforeAll
    static void start() throws Exception {
        data = Files.createTempDirectory("caravan-audit-data");
        gateway = TestGateway.start(config(""), Map.of("caravan.dataDir", data.toString()));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    static HttpResponse<String> chat(String key) {
        return gateway.post("/v1/chat/completions",
                "{\"model\":\"priced\",\"max_completion_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}",
                "Authorization", "Bearer " + key, "Content-Type", "application/json");
    }

    static HttpResponse<String> get(String path, String key) {
        return gateway.get(path, "Authorization", "Bearer " + key);
    }

    static JsonNode audit(String query, String key) {
        HttpResponse<String> r = get("/admin/audit" + query, key);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Json.parseObjectOrNull(r.body());
    }

    static List<JsonNode> rows(String query) {
        return list(audit(query, TestGateway.MASTER_KEY));
    }

    static List<JsonNode> list(JsonNode page) {
        return StreamSupport.stream(page.get("data").spliterator(), false).toList();
    }

    static HttpResponse<String> refusedChat(String key) {
        HttpResponse<String> last = null;
        for (int i = 0; i < 50; i++) {
            last = chat(key);
            if (last.statusCode() != 200) {
                return last;
            }
        }
        throw new AssertionError("50 requests and no refusal");
    }

    /** The gateway's own H2 file, opened beside it in this JVM with the URL it uses. */
    static void sql(String statement) throws Exception {
        String url = LedgerSettings.fromEnvironment(k -> null, Map.of("caravan.dataDir", data.toString())::get).jdbcUrl();
        Properties sa = new Properties();
        sa.setProperty("user", "sa");
        sa.setProperty("password", "");
        try (Connection c = DriverManager.getConnection(url, sa); Statement s = c.createStatement()) {
            s.execute(statement);
        }
    }

    @Test
    void aRequestAKeysBudgetRefusesIsAuditedNamingTheKeysBudget() throws Exception {
        HttpResponse<String> refused = refusedChat("k-solo");
        assertThat(refused.statusCode()).isEqualTo(429);
        String requestId = refused.headers().firstValue("x-caravan-request-id").orElseThrow();
        eventually(() -> refusalOf(requestId) != null, "the refusal's row");
        JsonNode row = refusalOf(requestId);
        assertThat(row.get("action").asText()).isEqualTo("budget.refused");
        assertThat(row.get("actor").asText()).isEqualTo("solo");
        assertThat(row.get("target").asText()).isEqualTo("key:solo");
        assertThat(row.get("team").asText()).isEqualTo("other");
        assertThat(row.get("outcome").asText()).isEqualTo("failure");
        assertThat(row.get("role").asText()).isEqualTo("user");
        assertThat(row.get("request_id").asText()).isEqualTo(requestId);
        assertThat(row.get("after")).isEqualTo(Json.object().put("model", "priced").put("code", "budget_exceeded")
                .put("ingress", "http"));
        assertThat(row.get("hash").asText()).matches("[0-9a-f]{64}");
        assertThat(row.get("time").asText()).endsWith("Z");
    }

    static JsonNode refusalOf(String requestId) {
        return rows("?action=budget.refused&limit=1000").stream()
                .filter(r -> requestId.equals(r.path("request_id").asText())).findFirst().orElse(null);
    }

    @Test
    void aRequestATeamsBudgetRefusesIsAuditedNamingTheTeamsBudget() throws Exception {
        HttpResponse<String> refused = refusedChat("k-spender");
        assertThat(refused.statusCode()).isEqualTo(429);
        String requestId = refused.headers().firstValue("x-caravan-request-id").orElseThrow();
        eventually(() -> refusalOf(requestId) != null, "the refusal's row");
        JsonNode row = refusalOf(requestId);
        assertThat(row.get("actor").asText()).isEqualTo("spender");
        assertThat(row.get("target").asText()).isEqualTo("team:lean");
        assertThat(row.get("team").asText()).isEqualTo("lean");
    }

    @Test
    void everyConfigReloadAppliedOrRefusedIsAuditedWithTheSectionsItChanged() throws Exception {
        int before = rows("?action=config.reload").size();
        Files.writeString(gateway.configFile(), config(
                "  - name: spare\n    deployments: [ { provider: mock, model: spare } ]"));
        eventually(() -> reloadAfter(before, "success") != null, "the reload's row");
        JsonNode applied = reloadAfter(before, "success");
        assertThat(applied.get("actor").asText()).isEqualTo("gateway");
        assertThat(applied.get("target").asText()).isEqualTo("config:gateway.yaml");
        assertThat(applied.get("after").get("sections")).isEqualTo(Json.MAPPER.createArrayNode().add("models"));

        // refused (no such provider type): the running config stays, the row says why and what it tried to change
        int applyRows = rows("?action=config.reload").size();
        Files.writeString(gateway.configFile(), config("").replace("mock: { type: mock }", "mock: { type: magic }"));
        eventually(() -> reloadAfter(applyRows, "failure") != null, "the refusal's row");
        JsonNode refused = reloadAfter(applyRows, "failure");
        assertThat(refused.get("after").get("sections"))
                .isEqualTo(Json.MAPPER.createArrayNode().add("models").add("providers"));
        assertThat(refused.get("after").get("reason").asText()).contains("invalid").doesNotContain("\n");
        assertThat(chat("k-spender").statusCode()).as("still serving").isIn(200, 429);
    }

    /** The first config.reload row with this outcome after the first {@code skip} of them, or null. */
    static JsonNode reloadAfter(int skip, String outcome) {
        List<JsonNode> all = rows("?action=config.reload&limit=1000");
        return all.stream().skip(skip).filter(r -> outcome.equals(r.get("outcome").asText())).findFirst().orElse(null);
    }

    @Test
    void verifySaysIntactThenNamesARowEditedInSqlThenIntactAgainOnceItIsPutBack() throws Exception {
        assertThat(refusedChat("k-solo").statusCode()).isEqualTo(429); // at least one row
        eventually(() -> !rows("?action=budget.refused").isEmpty(), "a row");
        JsonNode ok = verify();
        assertThat(ok.get("object").asText()).isEqualTo("audit.verification");
        assertThat(ok.get("ok").asBoolean()).as(ok.toString()).isTrue();
        assertThat(ok.get("rows").asLong()).isPositive();
        assertThat(ok.get("first_bad_seq").isNull()).isTrue();

        JsonNode first = rows("?limit=1").get(0);
        sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = " + first.get("seq").asLong());
        JsonNode broken = verify();
        assertThat(broken.get("ok").asBoolean()).isFalse();
        assertThat(broken.get("first_bad_seq").asLong()).isEqualTo(first.get("seq").asLong());
        assertThat(broken.get("reason").asText()).isEqualTo("edited");

        sql("UPDATE audit_log SET actor = '" + first.get("actor").asText() + "' WHERE seq = " + first.get("seq").asLong());
        assertThat(verify().get("ok").asBoolean()).isTrue();
    }

    static JsonNode verify() {
        HttpResponse<String> r = get("/admin/audit/verify", TestGateway.MASTER_KEY);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Json.parseObjectOrNull(r.body());
    }

    @Test
    void aViewerSeesOnlyItsOwnTeamsRowsAndMayNotVerify() throws Exception {
        assertThat(refusedChat("k-solo").statusCode()).isEqualTo(429);
        assertThat(refusedChat("k-spender").statusCode()).isEqualTo(429);
        eventually(() -> !rows("?actor=solo").isEmpty() && !rows("?actor=spender").isEmpty(), "both teams' rows");

        List<JsonNode> seen = list(audit("?limit=1000", "k-viewer"));
        assertThat(seen).isNotEmpty().allMatch(r -> "lean".equals(r.path("team").asText()));
        assertThat(seen).anyMatch(r -> "spender".equals(r.get("actor").asText()));
        assertThat(list(audit("?actor=solo", "k-viewer"))).isEmpty();
        assertThat(get("/admin/audit/verify", "k-viewer").statusCode()).isEqualTo(403);
    }

    @Test
    void aUserKeyMayNotReadTheAuditLog() {
        HttpResponse<String> r = get("/admin/audit", "k-user");
        assertThat(r.statusCode()).isEqualTo(403);
        assertThat(Json.parseObjectOrNull(r.body()).path("error").path("code").asText()).isEqualTo("insufficient_role");
    }

    @Test
    void pagesFollowEachOtherByTheirLastSeq() throws Exception {
        assertThat(refusedChat("k-solo").statusCode()).isEqualTo(429);
        assertThat(refusedChat("k-solo").statusCode()).isEqualTo(429);
        eventually(() -> rows("?actor=solo").size() >= 2, "two rows");
        JsonNode first = audit("?actor=solo&limit=1", TestGateway.MASTER_KEY);
        assertThat(first.get("object").asText()).isEqualTo("list");
        assertThat(first.get("has_more").asBoolean()).isTrue();
        long after = first.get("next_after").asLong();
        assertThat(list(first).get(0).get("seq").asLong()).isEqualTo(after);
        JsonNode second = audit("?actor=solo&limit=1&after=" + after, TestGateway.MASTER_KEY);
        assertThat(list(second).get(0).get("seq").asLong()).isGreaterThan(after);

        List<JsonNode> all = rows("?actor=solo&limit=1000");
        JsonNode window = audit("?actor=solo&from=" + all.get(0).get("time").asText() + "&to="
                + (java.time.Instant.parse(last(all).get("time").asText()).toEpochMilli() + 1), TestGateway.MASTER_KEY);
        assertThat(list(window)).hasSize(all.size());
        assertThat(window.get("has_more").asBoolean()).isFalse();
    }

    @Test
    void badQueryParametersAre400NamingTheParameter() {
        for (String[] bad : new String[][] {{"from", "yesterday"}, {"to", "2026-13-01T00:00:00Z"}, {"limit", "0"},
                {"limit", "1001"}, {"after", "-1"}, {"after", "x"}}) {
            HttpResponse<String> r = get("/admin/audit?" + bad[0] + "=" + bad[1], TestGateway.MASTER_KEY);
            assertThat(r.statusCode()).as(String.join("=", bad)).isEqualTo(400);
            assertThat(Json.parseObjectOrNull(r.body()).path("error").path("param").asText()).isEqualTo(bad[0]);
        }
    }

    @Test
    void withoutADatabaseTheAuditEndpointsAnswer503() throws Exception {
        try (TestGateway off = TestGateway.start(config(""), Map.of("caravan.ledger.enabled", "false"))) {
            for (String path : new String[] {"/admin/audit", "/admin/audit/verify"}) {
                HttpResponse<String> r = off.get(path, "Authorization", "Bearer " + TestGateway.MASTER_KEY);
                assertThat(r.statusCode()).as(path).isEqualTo(503);
                assertThat(r.body()).contains("audit_unavailable").contains("ledger is off");
            }
            assertThat(off.post("/v1/chat/completions",
                    "{\"model\":\"priced\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                    "Authorization", "Bearer k-spender").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void droppedEventsAreCountedInTheMetrics() {
        assertThat(gateway.metrics()).contains("caravan_audit_dropped_total 0.0");
    }

    static JsonNode last(List<JsonNode> rows) {
        return new ArrayList<>(rows).get(rows.size() - 1);
    }
}
