package dev.caravan.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.TestGateway;
import dev.caravan.admin.OpenApiDocument.Operation;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code GET /admin/openapi.json} held to the gateway's real answers: every admin endpoint is in the document, every
 * documented operation answers, and every answer of this test (successes and refusals) has a status the document
 * gives for its operation and a body valid against the schema it gives for that status. Callers: the master key, a
 * team-admin, a viewer and a user of team "search", and a key nobody knows.
 */
class OpenApiDocumentTest {

    static final String CONFIG = """
            providers:
              mock: { type: mock }
            models:
              - name: mock-gpt
                deployments: [ { provider: mock, model: mock-gpt } ]
            teams:
              platform: { budget: { usd: 100, period: 30d } }
            keys:
              - id: demo
                sha256: bd064c47a07f5e297c4d7198b05c97024eae96d2a4d18612def78da7f1307af4
                team: platform
            """;

    static final String ADMIN = TestGateway.MASTER_KEY;
    static final String NOBODY = "sk-nobody-knows-this-key";
    static String teamAdmin;
    static String viewer;
    static String user;
    /** secret -> the role the document's x-caravan-roles names it by */
    static final Map<String, String> ROLE_OF = new java.util.HashMap<>();

    static TestGateway gateway;
    static AdminCalls calls;
    static OpenApiDocument document;

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start(CONFIG, Map.of("caravan.ledger.flushInterval", "20ms"));
        calls = new AdminCalls(gateway, ADMIN);
        document = new OpenApiDocument(calls.get("/admin/openapi.json").body());
        ROLE_OF.put(ADMIN, "admin");

        assertThat(call(ADMIN, "POST", "/admin/teams", "{\"id\":\"search\",\"budget\":{\"usd\":50,\"period\":\"7d\"},"
                + "\"limits\":{\"rpm\":1000}}").status()).isEqualTo(201);
        teamAdmin = key("search-admin", "team-admin");
        viewer = key("search-viewer", "viewer");
        user = key("search-user", "user");

        assertThat(calls.chat(user, "mock-gpt")).isEqualTo(200);
        assertThat(calls.chat(user, "mock-gpt")).isEqualTo(200);
        assertThat(calls.chat(TestGateway.DEMO_KEY, "mock-gpt")).isEqualTo(200);
        TestGateway.eventually(() -> calls.get("/admin/requests").body().path("data").size() == 3,
                "the ledger's writer to store the 3 calls");
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    static String key(String id, String role) {
        var made = call(ADMIN, "POST", "/admin/keys", "{\"id\":\"" + id + "\",\"team\":\"search\",\"role\":\"" + role + "\"}");
        assertThat(made.status()).as(made.body().toString()).isEqualTo(201);
        ROLE_OF.put(made.text("key"), role);
        return made.text("key");
    }

    /**
     * One admin call with {@code secret}, its answer held to the document: the call is a documented operation, its
     * status one that operation documents, its body valid against that status's schema; the body sent valid against
     * the documented request body when the gateway took it, and invalid when refused for its shape; a role the
     * operation lists is not refused for its role, and one it does not list is not served.
     */
    static AdminCalls.Answer call(String secret, String method, String path, String body) {
        return call(calls, secret, method, path, body);
    }

    static AdminCalls.Answer call(AdminCalls on, String secret, String method, String path, String body) {
        AdminCalls.Answer answer = on.as(secret).call(method, path, body);
        String what = method + " " + path + " -> " + answer.status() + " " + answer.body();
        Operation op = document.operation(method, path)
                .orElseThrow(() -> new AssertionError("not in the document: " + what));
        assertThat(document.problems(op, answer.status(), answer.body())).as(what).isEmpty();
        JsonNode sent = json(body);
        if (sent != null) { // the body schema refuses what the gateway refuses for its shape, and takes what it takes
            List<String> refusals = document.requestProblems(op, sent);
            if (answer.status() < 300) {
                assertThat(refusals).as("the document refuses a body the gateway took: %s %s", what, body).isEmpty();
            }
            if (SHAPE_ERRORS.contains(answer.error().path("code").asText())) {
                assertThat(refusals).as("the document takes a body the gateway refused: %s %s", what, body).isNotEmpty();
            }
        }
        String role = ROLE_OF.get(secret);
        if (role != null) {
            List<String> roles = new ArrayList<>();
            op.node().path("x-caravan-roles").forEach(r -> roles.add(r.asText()));
            if (answer.status() < 300) {
                assertThat(roles).as("served to a %s, so the document lists it: %s", role, what).contains(role);
            }
            if (answer.status() == 403 && "insufficient_role".equals(answer.error().path("code").asText())) {
                assertThat(roles).as("refused to a %s, so the document does not list it: %s", role, what).doesNotContain(role);
            }
        }
        return answer;
    }

    /** The endpoints {@code g} answers: the dispatcher's table and the cache route beside it. */
    static Set<String> registered(TestGateway g) {
        Set<String> out = new TreeSet<>(g.caravan().context().getRegistry()
                .lookupByNameAndType("adminApi", AdminApi.class).endpoints());
        out.add("DELETE /admin/cache");
        return out;
    }

    /** The codes of a body refused for its shape (a field unknown, of the wrong type, or missing). */
    static final Set<String> SHAPE_ERRORS = Set.of("unknown_field", "invalid_type", "missing_field");

    static JsonNode json(String body) {
        try {
            return body == null ? null : AdminCalls.JSON.readTree(body);
        } catch (java.io.IOException notJson) {
            return null;
        }
    }

    static String encode(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8);
    }

    @Test
    void theDocumentIsOpenApi310AndServedAsShippedToEveryAdminRole() {
        var served = call(ADMIN, "GET", "/admin/openapi.json", null);
        assertThat(served.status()).isEqualTo(200);
        assertThat(served.body()).isEqualTo(OpenApiEndpoint.read());
        assertThat(served.text("openapi")).isEqualTo("3.1.0");
        assertThat(served.body().path("info").path("title").asText()).isEqualTo("Caravan admin API");
        assertThat(served.body().path("info").path("version").asText()).isNotBlank();
        assertThat(served.body().path("servers").get(0).path("url").asText()).isEqualTo("/");
        JsonNode bearer = served.body().path("components").path("securitySchemes").path("bearer");
        assertThat(bearer.path("type").asText()).isEqualTo("http");
        assertThat(bearer.path("scheme").asText()).isEqualTo("bearer");

        assertThat(call(teamAdmin, "GET", "/admin/openapi.json", null).status()).isEqualTo(200);
        assertThat(call(viewer, "GET", "/admin/openapi.json", null).status()).isEqualTo(200);
        assertThat(call(user, "GET", "/admin/openapi.json", null).status()).isEqualTo(403);
        assertThat(call(NOBODY, "GET", "/admin/openapi.json", null).status()).isEqualTo(401);
    }

    @Test
    void everyEndpointTheGatewayAnswersIsDocumented() {
        Set<String> documented = new TreeSet<>();
        document.operations().forEach(op -> documented.add(op.toString()));
        assertThat(registered(gateway)).contains("GET /admin/keys", "DELETE /admin/teams/{id}", "GET /admin/openapi.json");
        assertThat(documented).containsAll(registered(gateway));
    }

    @Test
    void everyDocumentedOperationIsAnswered() {
        Set<String> registered = registered(gateway);
        List<String> checked = new ArrayList<>();
        for (Operation op : document.operations()) {
            var answer = call(ADMIN, op.method(), op.template().replace("{id}", "no-such-thing"), null);
            assertThat(answer.status()).as("%s: %s", op, answer.body()).isNotEqualTo(405);
            assertThat(answer.error().path("message").asText()).as("%s", op).doesNotStartWith("No endpoint");
            checked.add(op.toString());
        }
        assertThat(checked).containsAll(registered);
    }

    @Test
    void keysAnswerAsDocumented() {
        var made = call(ADMIN, "POST", "/admin/keys", """
                {"id":"doc-key","team":"search","role":"user","models":["mock-gpt"],"limits":{"rpm":60,"tpm":10000},
                 "budget":{"usd":5,"period":"7d","alertAt":4},"regions":null,"metadata":{"owner":"ana"},
                 "expires":"2099-12-31"}""");
        assertThat(made.status()).isEqualTo(201);
        assertThat(made.text("key")).startsWith("sk-cvn-");
        assertThat(call(ADMIN, "POST", "/admin/keys", "{}").status()).isEqualTo(201); // every field left out
        assertThat(call(teamAdmin, "POST", "/admin/keys", "{\"role\":\"viewer\"}").status()).isEqualTo(201);

        assertThat(call(ADMIN, "GET", "/admin/keys/doc-key", null).status()).isEqualTo(200);
        assertThat(call(ADMIN, "GET", "/admin/keys/demo", null).text("source")).isEqualTo("config");
        assertThat(call(ADMIN, "GET", "/admin/keys", null).body().path("data").size()).isGreaterThan(4);
        assertThat(call(teamAdmin, "GET", "/admin/keys?team=search", null).status()).isEqualTo(200);
        assertThat(call(ADMIN, "PATCH", "/admin/keys/doc-key", "{\"metadata\":{\"owner\":\"bo\"},\"budget\":null,"
                + "\"expires\":\"2099-01-01T00:00:00Z\"}").status()).isEqualTo(200);

        var graceful = call(ADMIN, "POST", "/admin/keys/doc-key/rotate", "{\"gracePeriod\":\"1m\"}");
        assertThat(graceful.status()).isEqualTo(200);
        assertThat(graceful.text("previous_key_valid_until")).isNotNull();
        assertThat(call(ADMIN, "POST", "/admin/keys/doc-key/rotate", "{\"gracePeriod\":30}").status()).isEqualTo(200);
        assertThat(call(teamAdmin, "POST", "/admin/keys/doc-key/rotate", null).status()).isEqualTo(200);

        assertThat(call(ADMIN, "DELETE", "/admin/keys/doc-key", null).text("status")).isEqualTo("revoked");
        assertThat(call(ADMIN, "DELETE", "/admin/keys/doc-key", null).status()).isEqualTo(200);

        assertThat(call(ADMIN, "POST", "/admin/keys", "{\"id\":\"typo\",\"modles\":[]}").error().path("param").asText())
                .isEqualTo("modles");
        assertThat(call(ADMIN, "POST", "/admin/keys", "{\"limits\":{\"rpm\":\"sixty\"}}").status()).isEqualTo(400);
        assertThat(call(ADMIN, "POST", "/admin/keys/x/rotate", "{\"gracePeriod\":true}").status()).isEqualTo(400);
        assertThat(call(ADMIN, "GET", "/admin/keys?tem=search", null).status()).isEqualTo(400);
        assertThat(call(ADMIN, "POST", "/admin/keys", "{\"metadata\":{\"a\":\"" + "x".repeat(1_100_000) + "\"}}")
                .status()).isEqualTo(413); // over the admin API's 1 MB
        assertThat(call(viewer, "POST", "/admin/keys", "{}").status()).isEqualTo(403);
        assertThat(call(viewer, "GET", "/admin/keys", null).status()).isEqualTo(403);
        assertThat(call(teamAdmin, "POST", "/admin/keys", "{\"role\":\"admin\"}").error().path("code").asText())
                .isEqualTo("role_not_grantable");
        assertThat(call(ADMIN, "GET", "/admin/keys/nowhere", null).status()).isEqualTo(404);
        assertThat(call(teamAdmin, "GET", "/admin/keys/demo", null).status()).isEqualTo(404);
        assertThat(call(teamAdmin, "GET", "/admin/keys?team=platform", null).status()).isEqualTo(404);
        assertThat(call(ADMIN, "POST", "/admin/keys", "{\"team\":\"nowhere\"}").status()).isEqualTo(404);
        assertThat(call(ADMIN, "POST", "/admin/keys", "{\"id\":\"doc-key\"}").error().path("code").asText())
                .isEqualTo("key_exists");
        assertThat(call(ADMIN, "PATCH", "/admin/keys/doc-key", "{\"models\":[]}").error().path("code").asText())
                .isEqualTo("key_revoked");
        assertThat(call(ADMIN, "PATCH", "/admin/keys/demo", "{\"models\":[]}").error().path("code").asText())
                .isEqualTo("key_in_config");
        assertThat(call(ADMIN, "DELETE", "/admin/keys/demo", null).status()).isEqualTo(409);
        assertThat(call(NOBODY, "GET", "/admin/keys", null).status()).isEqualTo(401);
        assertThat(call(NOBODY, "DELETE", "/admin/keys/demo", null).status()).isEqualTo(401);
    }

    @Test
    void teamsAnswerAsDocumented() {
        assertThat(call(ADMIN, "POST", "/admin/teams", """
                {"id":"doc-team","budget":{"usd":20,"period":"month","alertAt":15},"limits":{"rpm":100,"tpm":null},
                 "models":["mock-gpt"],"regions":null,"metadata":{"cost-centre":"42"}}""").status()).isEqualTo(201);
        assertThat(call(ADMIN, "GET", "/admin/teams/doc-team", null).status()).isEqualTo(200);
        assertThat(call(ADMIN, "GET", "/admin/teams/platform", null).text("source")).isEqualTo("config");
        assertThat(call(ADMIN, "GET", "/admin/teams", null).body().path("data").size()).isGreaterThanOrEqualTo(3);
        assertThat(call(teamAdmin, "GET", "/admin/teams", null).body().path("data").size()).isEqualTo(1);
        assertThat(call(ADMIN, "PATCH", "/admin/teams/doc-team", "{\"limits\":{\"tpm\":5000},\"models\":null}").status())
                .isEqualTo(200);
        assertThat(call(teamAdmin, "PATCH", "/admin/teams/search", "{\"budget\":{\"usd\":45,\"period\":\"7d\"}}").status())
                .isEqualTo(200);
        assertThat(call(ADMIN, "DELETE", "/admin/teams/doc-team", null).text("object")).isEqualTo("team.deleted");

        assertThat(call(ADMIN, "POST", "/admin/teams", "{\"id\":\"t\",\"budjet\":{}}").error().path("param").asText())
                .isEqualTo("budjet");
        assertThat(call(ADMIN, "POST", "/admin/teams", "{\"budget\":{\"usd\":1}}").error().path("code").asText())
                .isEqualTo("missing_field");
        assertThat(call(ADMIN, "PATCH", "/admin/teams/search", "{\"budget\":{\"usd\":1,\"period\":\"1y\"}}").status())
                .isEqualTo(400);
        assertThat(call(teamAdmin, "POST", "/admin/teams", "{\"id\":\"mine\"}").status()).isEqualTo(403);
        assertThat(call(teamAdmin, "PATCH", "/admin/teams/search", "{\"budget\":{\"usd\":4000,\"period\":\"7d\"}}")
                .error().path("code").asText()).isEqualTo("may_not_raise");
        assertThat(call(viewer, "GET", "/admin/teams", null).status()).isEqualTo(403);
        assertThat(call(teamAdmin, "DELETE", "/admin/teams/search", null).status()).isEqualTo(403);
        assertThat(call(ADMIN, "GET", "/admin/teams/doc-team", null).status()).isEqualTo(404);
        assertThat(call(teamAdmin, "GET", "/admin/teams/platform", null).status()).isEqualTo(404);
        assertThat(call(ADMIN, "DELETE", "/admin/teams/doc-team", null).status()).isEqualTo(404);
        assertThat(call(ADMIN, "POST", "/admin/teams", "{\"id\":\"search\"}").error().path("code").asText())
                .isEqualTo("team_exists");
        assertThat(call(ADMIN, "PATCH", "/admin/teams/platform", "{\"limits\":{\"rpm\":1}}").error().path("code").asText())
                .isEqualTo("team_in_config");
        assertThat(call(ADMIN, "DELETE", "/admin/teams/search", null).error().path("code").asText())
                .isEqualTo("team_has_keys");
        assertThat(call(NOBODY, "POST", "/admin/teams", "{\"id\":\"x\"}").status()).isEqualTo(401);
    }

    @Test
    void configAnswersAsDocumented() throws Exception {
        var shown = call(ADMIN, "GET", "/admin/config", null);
        assertThat(shown.status()).isEqualTo(200);
        assertThat(shown.body().path("config").path("keys").get(0).path("sha256").asText()).isEqualTo("***");
        assertThat(call(ADMIN, "POST", "/admin/config/reload", null).status()).isEqualTo(200);

        Files.writeString(gateway.configFile(), CONFIG + "  - id: broken\n");
        try {
            assertThat(call(ADMIN, "POST", "/admin/config/reload", null).error().path("code").asText())
                    .isEqualTo("config_invalid");
        } finally {
            Files.writeString(gateway.configFile(), CONFIG);
        }
        assertThat(call(ADMIN, "POST", "/admin/config/reload", null).status()).isEqualTo(200);

        assertThat(call(teamAdmin, "GET", "/admin/config", null).status()).isEqualTo(403);
        assertThat(call(viewer, "POST", "/admin/config/reload", null).status()).isEqualTo(403);
        assertThat(call(NOBODY, "GET", "/admin/config", null).status()).isEqualTo(401);
    }

    @Test
    void spendAndRequestsAnswerAsDocumented() {
        assertThat(call(ADMIN, "GET", "/admin/spend", null).body().path("data").size()).isGreaterThanOrEqualTo(2);
        for (String by : List.of("key", "team", "model", "deployment", "day")) {
            assertThat(call(ADMIN, "GET", "/admin/spend?group_by=" + by, null).status()).isEqualTo(200);
        }
        assertThat(call(ADMIN, "GET", "/admin/spend?group_by=team&from=2020-01-01&to=2099-01-01T00:00:00Z&model=mock-gpt",
                null).body().path("total").path("requests").asInt()).isEqualTo(3);
        assertThat(call(viewer, "GET", "/admin/spend?group_by=team", null).body().path("data").size()).isEqualTo(1);
        assertThat(call(teamAdmin, "GET", "/admin/spend?key=search-user", null).status()).isEqualTo(200);

        var first = call(ADMIN, "GET", "/admin/requests?limit=1", null);
        assertThat(first.body().path("has_more").asBoolean()).isTrue();
        var next = call(ADMIN, "GET", "/admin/requests?limit=1&after=" + encode(first.text("next_after")), null);
        assertThat(next.status()).isEqualTo(200);
        assertThat(call(ADMIN, "GET", "/admin/requests?status=2xx&team=search&key=search-user", null)
                .body().path("data").size()).isEqualTo(2);
        assertThat(call(viewer, "GET", "/admin/requests", null).body().path("data").size()).isEqualTo(2);

        assertThat(call(ADMIN, "GET", "/admin/spend?group_by=week", null).error().path("param").asText()).isEqualTo("group_by");
        assertThat(call(ADMIN, "GET", "/admin/spend?tem=search", null).error().path("code").asText())
                .isEqualTo("unknown_parameter");
        assertThat(call(ADMIN, "GET", "/admin/requests?limit=0", null).status()).isEqualTo(400);
        assertThat(call(ADMIN, "GET", "/admin/requests?status=abc", null).status()).isEqualTo(400);
        assertThat(call(viewer, "GET", "/admin/spend?team=platform", null).status()).isEqualTo(404);
        assertThat(call(viewer, "GET", "/admin/requests?key=demo", null).status()).isEqualTo(404);
        assertThat(call(user, "GET", "/admin/spend", null).status()).isEqualTo(403);
        assertThat(call(user, "GET", "/admin/requests", null).status()).isEqualTo(403);
        assertThat(call(NOBODY, "GET", "/admin/spend", null).status()).isEqualTo(401);
        assertThat(call(NOBODY, "GET", "/admin/requests", null).status()).isEqualTo(401);
    }

    @Test
    void emptyingTheCacheAnswersAsDocumented() {
        assertThat(call(ADMIN, "DELETE", "/admin/cache", null).text("object")).isEqualTo("cache.cleared");
        assertThat(call(ADMIN, "DELETE", "/admin/cache?namespace=docs&model=mock-gpt", null).text("model"))
                .isEqualTo("mock-gpt");
        assertThat(call(ADMIN, "DELETE", "/admin/cache?model=a&model=b", null).status()).isEqualTo(400);
        assertThat(call(teamAdmin, "DELETE", "/admin/cache", null).status()).isEqualTo(403);
        assertThat(call(viewer, "DELETE", "/admin/cache", null).status()).isEqualTo(403);
        assertThat(call(NOBODY, "DELETE", "/admin/cache", null).status()).isEqualTo(401);
    }

    @Test
    void theAuditLogAnswersAsDocumented() {
        assertThat(call(ADMIN, "GET", "/admin/audit", null).status()).isEqualTo(200);
        assertThat(call(ADMIN, "GET", "/admin/audit?limit=1&action=key.create", null).status()).isEqualTo(200);
        assertThat(call(viewer, "GET", "/admin/audit", null).status()).isEqualTo(200);
        assertThat(call(ADMIN, "GET", "/admin/audit/verify", null).body().path("ok").asBoolean()).isTrue();
        assertThat(call(teamAdmin, "GET", "/admin/audit/verify", null).status()).isEqualTo(403);
        assertThat(call(user, "GET", "/admin/audit", null).status()).isEqualTo(403);
        assertThat(call(NOBODY, "GET", "/admin/audit", null).status()).isEqualTo(401);
    }

    @Test
    void withoutADatabaseItsEndpointsAnswer503AsDocumented() throws Exception {
        try (TestGateway off = TestGateway.start(CONFIG, Map.of("caravan.ledger.enabled", "false"))) {
            AdminCalls noDatabase = new AdminCalls(off, ADMIN);
            List<String[]> needIt = new ArrayList<>(List.of(new String[] {"POST", "/admin/keys", "{}"},
                    new String[] {"GET", "/admin/keys/made-at-run-time", null},
                    new String[] {"POST", "/admin/teams", "{\"id\":\"t\"}"},
                    new String[] {"GET", "/admin/spend", null}, new String[] {"GET", "/admin/requests", null},
                    new String[] {"GET", "/admin/audit", null}, new String[] {"GET", "/admin/audit/verify", null}));
            for (String[] c : needIt) {
                assertThat(call(noDatabase, ADMIN, c[0], c[1], c[2]).status()).as("%s %s", c[0], c[1]).isEqualTo(503);
            }
            assertThat(call(noDatabase, ADMIN, "GET", "/admin/keys", null).status()).isEqualTo(200); // the config's
        }
    }

    @Test
    void theCheckRefusesAMissingFieldAnUndocumentedFieldAndAnUndocumentedStatus() {
        Operation getKey = document.operation("GET", "/admin/keys/demo").orElseThrow();
        JsonNode real = call(ADMIN, "GET", "/admin/keys/demo", null).body();
        assertThat(document.problems(getKey, 200, real)).isEmpty();

        ObjectNode missing = real.deepCopy();
        missing.remove("status");
        assertThat(document.problems(getKey, 200, missing)).anyMatch(p -> p.contains("status"));
        ObjectNode extra = real.deepCopy();
        extra.put("sha256", "00");
        assertThat(document.problems(getKey, 200, extra)).anyMatch(p -> p.contains("sha256"));
        ObjectNode wrongEnum = real.deepCopy();
        wrongEnum.put("role", "root");
        assertThat(document.problems(getKey, 200, wrongEnum)).isNotEmpty();

        assertThat(document.problems(getKey, 200, real.path("metadata"))).isNotEmpty(); // refs resolve: not just any object
        assertThat(document.problems(getKey, 418, real)).hasSize(1).allMatch(p -> p.contains("does not document status 418"));
        ObjectNode error = call(ADMIN, "GET", "/admin/keys/nowhere", null).body().deepCopy();
        assertThat(document.problems(getKey, 404, error)).isEmpty();
        ((ObjectNode) error.get("error")).remove("code");
        assertThat(document.problems(getKey, 404, error)).anyMatch(p -> p.contains("code"));
    }
}
