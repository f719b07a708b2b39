package dev.caravan.admin;

import dev.caravan.TestGateway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every role against every admin endpoint: admin, a team-admin and a viewer of team "alpha", a user of alpha.
 * Another team's key or team is 404 to a team-admin (ids do not leak); an endpoint beyond a role is 403.
 */
class RoleMatrixTest {

    static final String CONFIG = """
            providers:
              mock: { type: mock }
            models:
              - name: mock-gpt
                deployments: [ { provider: mock, model: mock-gpt } ]
            """;

    static TestGateway gateway;
    static AdminCalls admin;
    static final AtomicInteger SERIAL = new AtomicInteger();
    /** role name -> that role's secret (admin: the master key) */
    static final java.util.Map<String, String> KEYS = new java.util.LinkedHashMap<>();

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start(CONFIG);
        admin = new AdminCalls(gateway, TestGateway.MASTER_KEY);
        for (String team : List.of("alpha", "beta")) {
            assertThat(admin.post("/admin/teams", "{\"id\":\"" + team + "\",\"budget\":{\"usd\":50},\"limits\":{\"rpm\":100}}")
                    .status()).isEqualTo(201);
        }
        KEYS.put("admin", TestGateway.MASTER_KEY);
        for (String role : List.of("team-admin", "viewer", "user")) {
            KEYS.put(role, admin.post("/admin/keys", "{\"id\":\"alpha-" + role + "\",\"team\":\"alpha\",\"role\":\""
                    + role + "\"}").text("key"));
        }
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    /** A fresh key of {@code team}, made by the admin, for a row that changes or removes one. */
    static String freshKey(String team) {
        String id = team + "-target-" + SERIAL.incrementAndGet();
        assertThat(admin.post("/admin/keys", "{\"id\":\"" + id + "\",\"team\":\"" + team + "\"}").status()).isEqualTo(201);
        return id;
    }

    static String freshTeam() {
        String id = "spare-" + SERIAL.incrementAndGet();
        assertThat(admin.post("/admin/teams", "{\"id\":\"" + id + "\"}").status()).isEqualTo(201);
        return id;
    }

    record Row(String what, String method, Supplier<String> path, String body, int admin, int teamAdmin, int viewer,
               int user) {
    }

    static Row row(String what, String method, Supplier<String> path, String body, int admin, int teamAdmin,
                   int viewer, int user) {
        return new Row(what, method, path, body, admin, teamAdmin, viewer, user);
    }

    static Supplier<String> at(String path) {
        return () -> path;
    }

    @TestFactory
    List<DynamicTest> everyRoleAgainstEveryEndpoint() {
        List<Row> rows = List.of(
                row("make a key in its own team", "POST", at("/admin/keys"), "{\"team\":\"alpha\"}", 201, 201, 403, 403),
                row("make a key in another team", "POST", at("/admin/keys"), "{\"team\":\"beta\"}", 201, 404, 403, 403),
                row("make an admin key", "POST", at("/admin/keys"), "{\"team\":\"alpha\",\"role\":\"admin\"}", 201, 403, 403, 403),
                row("list keys", "GET", at("/admin/keys"), null, 200, 200, 403, 403),
                row("read its team's key", "GET", at("/admin/keys/alpha-user"), null, 200, 200, 403, 403),
                row("read another team's key", "GET", () -> "/admin/keys/" + freshKey("beta"), null, 200, 404, 403, 403),
                row("change its team's key", "PATCH", () -> "/admin/keys/" + freshKey("alpha"), "{\"metadata\":{\"a\":\"b\"}}", 200, 200, 403, 403),
                row("change another team's key", "PATCH", () -> "/admin/keys/" + freshKey("beta"), "{\"metadata\":{\"a\":\"b\"}}", 200, 404, 403, 403),
                row("rotate its team's key", "POST", () -> "/admin/keys/" + freshKey("alpha") + "/rotate", null, 200, 200, 403, 403),
                row("rotate another team's key", "POST", () -> "/admin/keys/" + freshKey("beta") + "/rotate", null, 200, 404, 403, 403),
                row("revoke its team's key", "DELETE", () -> "/admin/keys/" + freshKey("alpha"), null, 200, 200, 403, 403),
                row("revoke another team's key", "DELETE", () -> "/admin/keys/" + freshKey("beta"), null, 200, 404, 403, 403),
                row("make a team", "POST", () -> "/admin/teams", null, 201, 403, 403, 403),
                row("list teams", "GET", at("/admin/teams"), null, 200, 200, 403, 403),
                row("read its team", "GET", at("/admin/teams/alpha"), null, 200, 200, 403, 403),
                row("read another team", "GET", at("/admin/teams/beta"), null, 200, 404, 403, 403),
                row("lower its team's budget", "PATCH", at("/admin/teams/alpha"), "{\"budget\":{\"usd\":40}}", 200, 200, 403, 403),
                row("raise its team's budget", "PATCH", at("/admin/teams/alpha"), "{\"budget\":{\"usd\":4000}}", 200, 403, 403, 403),
                row("raise its team's limits", "PATCH", at("/admin/teams/alpha"), "{\"limits\":{\"rpm\":100000}}", 200, 403, 403, 403),
                row("change another team", "PATCH", at("/admin/teams/beta"), "{\"budget\":{\"usd\":40}}", 200, 404, 403, 403),
                row("delete a team", "DELETE", () -> "/admin/teams/" + freshTeam(), null, 200, 403, 403, 403),
                row("read spend", "GET", at("/admin/spend"), null, 200, 200, 200, 403),
                row("read another team's spend", "GET", at("/admin/spend?team=beta"), null, 200, 404, 404, 403),
                row("read requests", "GET", at("/admin/requests"), null, 200, 200, 200, 403),
                row("read the audit log", "GET", at("/admin/audit"), null, 200, 200, 200, 403),
                row("verify the audit log", "GET", at("/admin/audit/verify"), null, 200, 403, 403, 403),
                row("read the config", "GET", at("/admin/config"), null, 200, 403, 403, 403),
                row("reload the config", "POST", at("/admin/config/reload"), null, 200, 403, 403, 403),
                row("read the OpenAPI document", "GET", at("/admin/openapi.json"), null, 200, 200, 200, 403),
                row("empty the cache", "DELETE", at("/admin/cache"), null, 200, 403, 403, 403));
        List<DynamicTest> tests = new ArrayList<>();
        for (Row r : rows) {
            // the admin goes last: what it changes (a budget raised) must not decide what the others may do
            java.util.Map<String, Integer> expected = java.util.Map.of("team-admin", r.teamAdmin(), "viewer", r.viewer(),
                    "user", r.user(), "admin", r.admin());
            for (String role : List.of("team-admin", "viewer", "user", "admin")) {
                int want = expected.get(role);
                tests.add(DynamicTest.dynamicTest(role + ": " + r.what() + " -> " + want, () -> {
                    String body = r.body();
                    if ("make a team".equals(r.what())) {
                        body = "{\"id\":\"made-" + SERIAL.incrementAndGet() + "\"}";
                    }
                    var answer = admin.as(KEYS.get(role)).call(r.method(), r.path().get(), body);
                    assertThat(answer.status()).as("%s %s as %s: %s", r.method(), r.what(), role, answer.body())
                            .isEqualTo(want);
                    if (want >= 400) {
                        assertThat(answer.error().path("message").asText()).isNotBlank();
                        assertThat(answer.error().path("type").asText()).isNotBlank();
                    }
                }));
            }
        }
        return tests;
    }
}
