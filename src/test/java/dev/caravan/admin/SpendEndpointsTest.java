package dev.caravan.admin;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.RateLimitException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import dev.caravan.TestGateway;
import dev.caravan.auth.KeyAuthenticator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code GET /admin/spend} and {@code GET /admin/requests} as an operator sees them: a real gateway, model calls
 * through the OpenAI SDK by keys of two teams (one of them refused by its budget), then the admin API read over
 * plain HTTP by the master key, a viewer and a team-admin of one team each, and a user.
 */
class SpendEndpointsTest {

    // $1000 per million tokens both ways on "priced" and $1 on "cheap": a call of t tokens costs t/1000 or
    // t/1000000 USD, exactly
    static final BigDecimal PRICED_PER_TOKEN = new BigDecimal("0.001");
    static final BigDecimal CHEAP_PER_TOKEN = new BigDecimal("0.000001");

    static final String ADMIN = TestGateway.MASTER_KEY;
    static final String ALICE = "k-alice";          // a user of team alpha
    static final String BOB = "k-bob";              // a user of team beta, with a small budget
    static final String ALPHA_VIEWER = "k-alpha-viewer";
    static final String BETA_ADMIN = "k-beta-admin";

    // reads cost_usd as the exact decimal it was written as, not a double
    static final ObjectMapper EXACT = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    static TestGateway gateway;
    static final Map<String, BigDecimal> spentByTeam = new HashMap<>();
    static final Map<String, Integer> callsByTeam = new HashMap<>();
    static int rows;
    static LocalDate firstDay;

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start("""
                providers:
                  mock: { type: mock }
                models:
                  - name: priced
                    deployments: [ { provider: mock, model: priced, price: { input: 1000, output: 1000 } } ]
                  - name: cheap
                    deployments: [ { provider: mock, model: cheap, price: { input: 1, output: 1 } } ]
                teams:
                  alpha: {}
                  beta: {}
                keys:
                  - { id: alice, sha256: "%s", team: alpha }
                  - { id: bob, sha256: "%s", team: beta, budget: { usd: 0.05, period: 1d } }
                  - { id: alpha-viewer, sha256: "%s", team: alpha, role: viewer }
                  - { id: beta-admin, sha256: "%s", team: beta, role: team-admin }
                """.formatted(sha(ALICE), sha(BOB), sha(ALPHA_VIEWER), sha(BETA_ADMIN)),
                Map.of("caravan.ledger.flushInterval", "20ms"));
        firstDay = LocalDate.now(ZoneOffset.UTC);
        AtomicInteger prompt = new AtomicInteger(); // every prompt new: no answer comes from the cache
        OpenAIClient alice = gateway.openai(ALICE);
        for (int i = 0; i < 3; i++) {
            charge("alpha", PRICED_PER_TOKEN, alice.chat().completions().create(ask("priced", prompt)));
        }
        for (int i = 0; i < 2; i++) {
            charge("alpha", CHEAP_PER_TOKEN, alice.chat().completions().create(ask("cheap", prompt)));
        }
        try (StreamResponse<ChatCompletionChunk> stream = alice.chat().completions().createStreaming(
                ChatCompletionCreateParams.builder().model("priced").addUserMessage("stream " + prompt.incrementAndGet())
                        .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            List<ChatCompletionChunk> chunks = stream.stream().toList();
            long tokens = chunks.get(chunks.size() - 1).usage().orElseThrow().totalTokens();
            add("alpha", PRICED_PER_TOKEN.multiply(BigDecimal.valueOf(tokens)));
        }
        OpenAIClient bob = gateway.openai(BOB);
        boolean refused = false;
        for (int i = 0; i < 20 && !refused; i++) {
            try {
                charge("beta", PRICED_PER_TOKEN, bob.chat().completions().create(ask("priced", prompt)));
            } catch (RateLimitException e) { // budget_exceeded: a row of its own, costing nothing
                add("beta", BigDecimal.ZERO);
                refused = true;
            }
        }
        assertThat(refused).as("bob's budget refuses a call").isTrue();
        rows = callsByTeam.values().stream().mapToInt(Integer::intValue).sum();
        TestGateway.eventually(() -> list("/admin/requests?limit=1000", ADMIN).path("data").size() == rows,
                "the ledger's writer to store all " + rows + " rows");
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    static ChatCompletionCreateParams ask(String model, AtomicInteger prompt) {
        return ChatCompletionCreateParams.builder().model(model).addUserMessage("hello " + prompt.incrementAndGet())
                .build();
    }

    static void charge(String team, BigDecimal perToken, ChatCompletion answer) {
        add(team, perToken.multiply(BigDecimal.valueOf(answer.usage().orElseThrow().totalTokens())));
    }

    static void add(String team, BigDecimal usd) {
        spentByTeam.merge(team, usd, BigDecimal::add);
        callsByTeam.merge(team, 1, Integer::sum);
    }

    static String sha(String key) {
        return HexFormat.of().formatHex(KeyAuthenticator.sha256(key));
    }

    static HttpResponse<String> get(String path, String key) {
        return gateway.get(path, "Authorization", "Bearer " + key);
    }

    static JsonNode json(HttpResponse<String> r) {
        try {
            return EXACT.readTree(r.body());
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + r.body(), e);
        }
    }

    /** A 200 answer's body. */
    static JsonNode list(String path, String key) {
        HttpResponse<String> r = get(path, key);
        assertThat(r.statusCode()).as("%s: %s", path, r.body()).isEqualTo(200);
        return json(r);
    }

    /** The error object of an answer with {@code status}, in OpenAI's shape. */
    static JsonNode error(HttpResponse<String> r, int status) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        JsonNode error = json(r).path("error");
        assertThat(error.has("message") && error.has("type") && error.has("code") && error.has("param"))
                .as("OpenAI's error shape: %s", r.body()).isTrue();
        return error;
    }

    static Map<String, JsonNode> byValue(JsonNode spend) {
        Map<String, JsonNode> groups = new HashMap<>();
        String by = spend.path("group_by").asText();
        spend.path("data").forEach(g -> groups.put(g.path(by).asText(null), g));
        return groups;
    }

    @Test
    void anAdminSeesEveryTeamsSpendToTheNanoDollarAndTheTotal() {
        HttpResponse<String> r = get("/admin/spend?group_by=team", ADMIN);
        JsonNode spend = json(r);

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(spend.path("object").asText()).isEqualTo("spend");
        assertThat(spend.path("group_by").asText()).isEqualTo("team");
        assertThat(spend.path("from").isNull() && spend.path("to").isNull()).as("no window: all time").isTrue();
        Map<String, JsonNode> teams = byValue(spend);
        assertThat(teams).containsOnlyKeys("alpha", "beta");
        for (String team : List.of("alpha", "beta")) {
            assertThat(teams.get(team).path("cost_usd").decimalValue()).as(team)
                    .isEqualByComparingTo(spentByTeam.get(team));
            assertThat(teams.get(team).path("requests").asInt()).isEqualTo(callsByTeam.get(team));
            assertThat(teams.get(team).path("prompt_tokens").asLong()).isPositive();
            assertThat(teams.get(team).path("completion_tokens").asLong()).isPositive();
            assertThat(teams.get(team).has("cached_tokens")).isTrue();
        }
        JsonNode total = spend.path("total");
        assertThat(total.path("requests").asInt()).isEqualTo(rows);
        assertThat(total.path("cost_usd").decimalValue())
                .isEqualByComparingTo(spentByTeam.get("alpha").add(spentByTeam.get("beta")));
        // a JSON number with all nine decimals, never 1.0E-6 or a rounded double
        assertThat(r.body()).containsPattern("\"cost_usd\":\\d+\\.\\d{9}[,}]").doesNotContain("E-");
    }

    @Test
    void aViewerSeesOnlyItsOwnTeamAndAnotherTeamOrItsKeyIsNotFound() {
        JsonNode spend = list("/admin/spend?group_by=team", ALPHA_VIEWER);
        assertThat(byValue(spend)).containsOnlyKeys("alpha");
        assertThat(spend.path("total").path("cost_usd").decimalValue()).isEqualByComparingTo(spentByTeam.get("alpha"));
        assertThat(byValue(list("/admin/spend?group_by=key", ALPHA_VIEWER))).containsOnlyKeys("alice");
        JsonNode requests = list("/admin/requests?limit=1000", ALPHA_VIEWER).path("data");
        assertThat(requests).hasSize(callsByTeam.get("alpha"));
        requests.forEach(row -> assertThat(row.path("team").asText()).isEqualTo("alpha"));
        assertThat(byValue(list("/admin/spend?group_by=team&team=alpha&key=alice", ALPHA_VIEWER)))
                .containsOnlyKeys("alpha");

        for (String path : List.of("/admin/spend?team=beta", "/admin/requests?team=beta", "/admin/spend?team=nobody")) {
            JsonNode error = error(get(path, ALPHA_VIEWER), 404);
            assertThat(error.path("code").asText()).isEqualTo("not_found");
            assertThat(error.path("param").asText()).isEqualTo("team");
        }
        // bob's key, and a key that does not exist, answer alike: nothing leaks about other teams
        JsonNode otherKey = error(get("/admin/requests?key=bob", ALPHA_VIEWER), 404);
        JsonNode noKey = error(get("/admin/requests?key=nobody", ALPHA_VIEWER), 404);
        assertThat(otherKey.path("param").asText()).isEqualTo("key");
        assertThat(otherKey.path("message").asText().replace("bob", "nobody")).isEqualTo(noKey.path("message").asText());
    }

    @Test
    void aTeamAdminSeesItsOwnTeamOnly() {
        assertThat(byValue(list("/admin/spend?group_by=key", BETA_ADMIN))).containsOnlyKeys("bob");
        assertThat(list("/admin/requests?limit=1000", BETA_ADMIN).path("data")).hasSize(callsByTeam.get("beta"));
        assertThat(error(get("/admin/spend?team=alpha", BETA_ADMIN), 404).path("code").asText()).isEqualTo("not_found");
    }

    @Test
    void spendIsGroupedByKeyByDefaultAndByModelDeploymentAndDay() {
        JsonNode byDefault = list("/admin/spend", ADMIN);
        assertThat(byDefault.path("group_by").asText()).isEqualTo("key");
        assertThat(byValue(byDefault)).containsOnlyKeys("alice", "bob");
        assertThat(byValue(byDefault).get("bob").path("cost_usd").decimalValue())
                .isEqualByComparingTo(spentByTeam.get("beta"));

        Map<String, JsonNode> models = byValue(list("/admin/spend?group_by=model", ADMIN));
        assertThat(models).containsOnlyKeys("priced", "cheap");
        assertThat(models.get("cheap").path("requests").asInt()).isEqualTo(2);
        assertThat(models.get("priced").path("requests").asInt()).isEqualTo(rows - 2);

        Map<String, JsonNode> deployments = byValue(list("/admin/spend?group_by=deployment", ADMIN));
        assertThat(deployments).containsKeys("mock-priced", "mock-cheap");
        assertThat(deployments.get("mock-cheap").path("requests").asInt()).isEqualTo(2);
        assertThat(deployments.get(null).path("requests").asInt()).as("the refusal reached no deployment").isEqualTo(1);

        JsonNode days = list("/admin/spend?group_by=day", ADMIN);
        LocalDate today = LocalDate.now(ZoneOffset.UTC);
        long counted = 0;
        for (JsonNode day : days.path("data")) {
            assertThat(LocalDate.parse(day.path("day").asText())).isBetween(firstDay, today);
            counted += day.path("requests").asLong();
        }
        assertThat(counted).isEqualTo(rows);
    }

    @Test
    void fromAndToNarrowTheWindowAndAreEchoedAsInstants() {
        String tomorrow = LocalDate.now(ZoneOffset.UTC).plusDays(1).toString();
        JsonNode future = list("/admin/spend?from=" + tomorrow, ADMIN);
        assertThat(future.path("from").asText()).isEqualTo(tomorrow + "T00:00:00Z");
        assertThat(future.path("data")).isEmpty();
        assertThat(future.path("total").path("requests").asInt()).isZero();
        assertThat(future.path("total").path("cost_usd").decimalValue()).isEqualByComparingTo("0");

        JsonNode all = list("/admin/spend?from=2026-01-01T00:00:00Z&to=" + tomorrow, ADMIN);
        assertThat(all.path("total").path("requests").asInt()).isEqualTo(rows);
        assertThat(list("/admin/requests?to=1", ADMIN).path("data")).isEmpty(); // epoch milliseconds
        assertThat(list("/admin/requests?from=" + (System.currentTimeMillis() + 60_000), ADMIN)
                .path("data")).isEmpty();
    }

    @Test
    void requestsComeNewestFirstWithEveryFieldAndARefusalIsFoundByItsStatus() {
        JsonNode data = list("/admin/requests?limit=1000", ADMIN).path("data");
        List<Instant> times = new ArrayList<>();
        data.forEach(row -> times.add(Instant.parse(row.path("time").asText())));
        assertThat(times).isSortedAccordingTo((a, b) -> b.compareTo(a));

        JsonNode row = data.get(data.size() - 1); // the first call: alice's, whole, priced
        assertThat(row.path("id").asText()).isNotBlank();
        assertThat(row.path("key").asText()).isEqualTo("alice");
        assertThat(row.path("team").asText()).isEqualTo("alpha");
        assertThat(row.path("model").asText()).isEqualTo("priced");
        assertThat(row.path("deployment").asText()).isEqualTo("mock-priced");
        assertThat(row.path("operation").asText()).isNotBlank();
        assertThat(row.path("status").asInt()).isEqualTo(200);
        assertThat(row.path("error_code").isNull()).isTrue();
        assertThat(row.path("usage").path("prompt_tokens").asLong()).isPositive();
        assertThat(row.path("usage").path("estimated").isBoolean()).isTrue();
        assertThat(row.path("cost_usd").decimalValue()).isPositive();
        assertThat(row.path("latency_ms").isIntegralNumber()).isTrue();
        assertThat(row.path("stream").asBoolean()).isFalse();
        assertThat(data.findValues("stream")).filteredOn(JsonNode::asBoolean).hasSize(1);

        for (String status : List.of("429", "4xx")) {
            JsonNode refused = list("/admin/requests?status=" + status, ADMIN).path("data");
            assertThat(refused).as(status).hasSize(1);
            assertThat(refused.get(0).path("key").asText()).isEqualTo("bob");
            assertThat(refused.get(0).path("status").asInt()).isEqualTo(429);
            assertThat(refused.get(0).path("error_code").asText()).isEqualTo("budget_exceeded");
            assertThat(refused.get(0).path("cost_usd").decimalValue()).isEqualByComparingTo("0");
        }
        assertThat(list("/admin/requests?status=2xx&model=cheap&key=alice&team=alpha", ADMIN).path("data")).hasSize(2);
    }

    @Test
    void pagingWithNextAfterCoversEveryRowExactlyOnceNewestFirst() {
        List<String> everything = new ArrayList<>();
        list("/admin/requests?limit=1000", ADMIN).path("data").forEach(r -> everything.add(r.path("id").asText()));

        List<String> paged = new ArrayList<>();
        String path = "/admin/requests?limit=2";
        int pages = 0;
        while (true) {
            JsonNode page = list(path, ADMIN);
            page.path("data").forEach(r -> paged.add(r.path("id").asText()));
            pages++;
            assertThat(page.path("data").size()).isLessThanOrEqualTo(2);
            if (!page.path("has_more").asBoolean()) {
                assertThat(page.path("next_after").isNull()).isTrue();
                break;
            }
            path = "/admin/requests?limit=2&after=" + page.path("next_after").asText();
        }
        assertThat(paged).containsExactlyElementsOf(everything);
        assertThat(new HashSet<>(paged)).hasSize(rows);
        assertThat(pages).isEqualTo((rows + 1) / 2);
    }

    @Test
    void badInputIs400NamingTheParameter() {
        Map<String, String> cases = Map.of(
                "/admin/spend?group_by=week", "group_by",
                "/admin/spend?from=yesterday", "from",
                "/admin/spend?to=2026-13-01", "to",
                "/admin/spend?from=2026-12-02&to=2026-12-01", "to",
                "/admin/spend?colour=red", "colour",
                "/admin/spend?limit=5", "limit", // paging is for requests, not spend
                "/admin/requests?limit=0", "limit",
                "/admin/requests?limit=1001", "limit",
                "/admin/requests?after=not-a-cursor", "after",
                "/admin/requests?status=teapot", "status");
        cases.forEach((path, param) -> {
            JsonNode error = error(get(path, ADMIN), 400);
            assertThat(error.path("param").asText()).as(path).isEqualTo(param);
            assertThat(error.path("type").asText()).isEqualTo("invalid_request_error");
        });
        assertThat(error(get("/admin/requests?group_by=team", ADMIN), 400).path("code").asText())
                .isEqualTo("unknown_parameter");
        assertThat(error(get("/admin/requests?key=a&key=b", ADMIN), 400).path("param").asText()).isEqualTo("key");
    }

    @Test
    void aUserKeyIsForbiddenBoth() {
        for (String path : List.of("/admin/spend", "/admin/requests")) {
            JsonNode error = error(get(path, ALICE), 403);
            assertThat(error.path("type").asText()).isEqualTo("permission_error");
            assertThat(error.path("code").asText()).isEqualTo("insufficient_role");
        }
    }

    @Test
    void withTheLedgerOffBothAnswer503SayingSo() throws Exception {
        try (TestGateway off = TestGateway.start(TestGateway.MOCK_CONFIG, Map.of("caravan.ledger.enabled", "false"))) {
            for (String path : List.of("/admin/spend", "/admin/requests")) {
                HttpResponse<String> r = off.get(path, "Authorization", "Bearer " + ADMIN);
                JsonNode error = error(r, 503);
                assertThat(error.path("code").asText()).isEqualTo("ledger_off");
                assertThat(error.path("message").asText()).contains("caravan.ledger.enabled");
            }
        }
    }
}
