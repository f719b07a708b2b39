package dev.caravan.auth;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import com.openai.client.OpenAIClient;
import com.openai.errors.OpenAIServiceException;
import com.openai.errors.PermissionDeniedException;
import com.openai.errors.RateLimitException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Callers and admins sign in with JWT access tokens of the issuers in {@code auth.oidc}, through HTTP and the
 * official SDKs: tokens are verified against each issuer's JWKS (served here by in-test identity providers, with keys
 * of the test's own), mapped to a team and a role, and bound by that team as its keys are; every token that does
 * not verify gets 401 in the caller's dialect, and none reaches a log line.
 */
class OidcEndToEndTest {

    static final String AUDIENCE = "caravan";
    static final String AUTH0_AUDIENCE = "https://caravan.example/api";
    /** The gateway's refresh interval in this test (10 s in production): one JWKS fetch per issuer per second. */
    static final Duration REFRESH = Duration.ofSeconds(1);

    static TestIssuer keycloak;   // discovery, team claim "team", roles in realm_access.roles
    static TestIssuer auth0;      // jwksUrl, namespaced claims, a default team
    static TestIssuer flaky;      // not serving until a test starts it
    static TestIssuer stalled;    // takes connections and never answers
    static TestGateway gateway;
    static final ListAppender<ILoggingEvent> logs = new ListAppender<>();

    static String config(TestIssuer... issuers) {
        StringBuilder oidc = new StringBuilder();
        for (TestIssuer i : issuers) {
            if (i == keycloak) {
                oidc.append("""
                            - issuer: "%s"
                              audience: %s
                              claims: { team: team, role: realm_access.roles }
                        """.formatted(i.issuer(), AUDIENCE));
            } else if (i == auth0) {
                oidc.append("""
                            - issuer: "%s"
                              audience: [ "https://other.example", "%s" ]
                              jwksUrl: "%s"
                              claims: { team: "https://caravan.example/team", role: "https://caravan.example/roles" }
                              defaults: { team: research }
                        """.formatted(i.issuer(), AUTH0_AUDIENCE, i.jwksUrl()));
            } else {
                oidc.append("""
                            - issuer: "%s"
                              audience: %s
                              jwksUrl: "%s"
                        """.formatted(i.issuer(), AUDIENCE, i.jwksUrl()));
            }
        }
        return """
                providers:
                  mock: { type: mock }
                models:
                  - name: mock-gpt
                    deployments: [ { provider: mock, model: mock-gpt } ]
                  - name: other
                    deployments: [ { provider: mock, model: other } ]
                teams:
                  search: { models: [mock-gpt] }
                  research: {}
                  tight: { limits: { rpm: 2 } }
                """ + (issuers.length == 0 ? "" : "auth:\n  oidc:\n" + oidc);
    }

    @BeforeAll
    static void start() throws Exception {
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
        logs.start();
        keycloak = new TestIssuer(TestGateway.freePort(), "/realms/acme", false).serve();
        auth0 = new TestIssuer(TestGateway.freePort(), "/auth0", true).serve();
        flaky = new TestIssuer(TestGateway.freePort(), "/flaky", false);
        stalled = new TestIssuer(TestGateway.freePort(), "/stalled", false).stall();
        gateway = TestGateway.start(config(keycloak, auth0, flaky, stalled),
                Map.of("caravan.oidc.jwksRefreshInterval", REFRESH.toMillis() + "ms"));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        keycloak.close();
        auth0.close();
        flaky.close();
        stalled.close();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    }

    static ChatCompletionCreateParams chat(String model) {
        return ChatCompletionCreateParams.builder().model(model).addUserMessage("hi").build();
    }

    static ChatCompletion chatAs(String token, String model) {
        return gateway.openai(token).chat().completions().create(chat(model));
    }

    static String keycloakToken(String subject, String team, String... roles) {
        JWTClaimsSet.Builder claims = keycloak.claims(AUDIENCE, subject).claim("team", team)
                .claim("realm_access", Map.of("roles", List.of(roles)));
        return keycloak.token(claims);
    }

    /** The 401 a token gets, in OpenAI's shape, whose message says {@code why}. */
    static void refused(String token, String why) {
        assertThatThrownBy(() -> chatAs(token, "mock-gpt")).isInstanceOfSatisfying(UnauthorizedException.class, e -> {
            assertThat(e.statusCode()).isEqualTo(401);
            assertThat(e.code()).hasValue("invalid_api_key");
            assertThat(e.type()).hasValue("invalid_request_error");
            assertThat(e.getMessage()).containsIgnoringCase(why).doesNotContain(token);
        });
    }

    static List<String> logLines() {
        synchronized (logs) { // logback appends under the appender's lock
            return logs.list.stream().map(e -> e.getLoggerName() + " " + e.getFormattedMessage()
                    + (e.getThrowableProxy() == null ? "" : ThrowableProxyUtil.asString(e.getThrowableProxy()))).toList();
        }
    }

    @Test
    void aValidTokenCallsAModelAsItsSubjectInItsTeam() throws Exception {
        ChatCompletion answer = chatAs(keycloakToken("svc-search", "search"), "mock-gpt");
        assertThat(answer.choices().get(0).message().content()).isPresent();
        TestGateway.eventually(() -> logLines().stream().anyMatch(l -> l.startsWith("caravan.access")
                && l.contains("\"key_id\":\"svc-search\"") && l.contains("\"team\":\"search\"")),
                "the access line names the token's subject and team");
    }

    @Test
    void aTokenSignedWithTheIssuersEcKeyWorksToo() {
        String token = TestIssuer.sign(keycloak.ec, JWSAlgorithm.ES256,
                keycloak.claims(AUDIENCE, "svc-ec").claim("team", "research").build());
        assertThat(chatAs(token, "mock-gpt").choices()).isNotEmpty();
    }

    @Test
    void theTokensTeamBoundsWhichModelsItMayCall() {
        String token = keycloakToken("svc-search-2", "search");
        assertThat(chatAs(token, "mock-gpt").choices()).isNotEmpty();
        assertThatThrownBy(() -> chatAs(token, "other")).isInstanceOfSatisfying(PermissionDeniedException.class, e -> {
            assertThat(e.statusCode()).isEqualTo(403);
            assertThat(e.code()).hasValue("model_not_allowed");
        });
    }

    @Test
    void theTokensTeamLimitsApply() {
        String token = keycloakToken("svc-tight", "tight");
        chatAs(token, "mock-gpt");
        chatAs(token, "mock-gpt");
        assertThatThrownBy(() -> chatAs(token, "mock-gpt")).isInstanceOfSatisfying(RateLimitException.class,
                e -> assertThat(e.statusCode()).isEqualTo(429));
    }

    @Test
    void anExpiredTokenGets401SayingItExpired() {
        Instant past = Instant.now().minus(Duration.ofMinutes(10));
        refused(keycloak.token(keycloak.claims(AUDIENCE, "late").expirationTime(Date.from(past))), "expired");
    }

    @Test
    void aTokenPastItsExpiryWithinTheLeewayStillWorks() {
        Instant justNow = Instant.now().minus(Duration.ofSeconds(20)); // the default leeway is 60 s
        assertThat(chatAs(keycloak.token(keycloak.claims(AUDIENCE, "skewed").expirationTime(Date.from(justNow))),
                "mock-gpt").choices()).isNotEmpty();
    }

    @Test
    void aTokenWithoutExpiryOrNotYetValidGets401() {
        refused(keycloak.token(keycloak.claims(AUDIENCE, "forever").expirationTime(null)), "expiry");
        Instant later = Instant.now().plus(Duration.ofMinutes(3));
        refused(keycloak.token(keycloak.claims(AUDIENCE, "early").notBeforeTime(Date.from(later))), "not valid before");
    }

    @Test
    void aTokenForAnotherAudienceGets401() {
        refused(keycloak.token(keycloak.claims("some-other-api", "svc")), "audience");
    }

    @Test
    void aTokenOfAnIssuerNotConfiguredGets401EvenWithAKnownKey() {
        refused(keycloak.token(keycloak.claims(AUDIENCE, "svc").issuer("https://evil.example/realms/acme")), "issuer");
    }

    @Test
    void aTokenSignedByAnotherKeyWithTheSameKidGets401() {
        RSAKey impostor = TestIssuer.rsaKey(keycloak.rsa.getKeyID());
        refused(TestIssuer.sign(impostor, JWSAlgorithm.RS256, keycloak.claims(AUDIENCE, "svc").build()), "signature");
    }

    @Test
    void anUnsignedTokenWithAlgNoneGets401() {
        String none = new PlainJWT(keycloak.claims(AUDIENCE, "svc").build()).serialize();
        refused(none, "alg: none");
    }

    @Test
    void anHs256TokenGets401EvenIfItsSecretIsTheIssuersPublicKey() throws JOSEException {
        // the classic confusion attack: the RSA public key's bytes as an HMAC secret
        byte[] secret = keycloak.rsa.toPublicJWK().toJSONString().getBytes(StandardCharsets.UTF_8);
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("rsa-1").build(),
                keycloak.claims(AUDIENCE, "svc").build());
        jwt.sign(new MACSigner(secret));
        refused(jwt.serialize(), "HS256");
    }

    @Test
    void aTokenWithoutSubjectGets401() {
        refused(keycloak.token(keycloak.claims(AUDIENCE, null)), "subject");
    }

    @Test
    void aKeyPublishedAfterStartIsAcceptedAfterOneRefresh() throws Exception {
        RSAKey rotated = TestIssuer.rsaKey("rsa-rotated");
        String token = TestIssuer.sign(rotated, JWSAlgorithm.RS256, keycloak.claims(AUDIENCE, "svc-rotated").build());
        Thread.sleep(REFRESH.toMillis() + 100); // past any earlier test's refresh
        int before = keycloak.jwksFetches.get();
        keycloak.publish(rotated);
        assertThat(chatAs(token, "mock-gpt").choices()).isNotEmpty();
        assertThat(keycloak.jwksFetches.get() - before).as("one refresh for the new kid").isEqualTo(1);
        assertThat(chatAs(token, "mock-gpt").choices()).isNotEmpty();
        assertThat(keycloak.jwksFetches.get() - before).as("then it is cached").isEqualTo(1);
    }

    @Test
    void madeUpKeyIdsGet401WithoutHammeringTheIdentityProvider() throws Exception {
        List<RSAKey> unknown = List.of(TestIssuer.rsaKey("made-up-1"), TestIssuer.rsaKey("made-up-2"),
                TestIssuer.rsaKey("made-up-3"));
        int before = keycloak.jwksFetches.get();
        long start = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<HttpResponse<String>>> calls = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            String token = TestIssuer.sign(unknown.get(i % 3), JWSAlgorithm.RS256, keycloak.claims(AUDIENCE, "svc").build());
            calls.add(pool.submit(() -> gateway.post("/v1/chat/completions",
                    "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                    "Authorization", "Bearer " + token)));
        }
        for (Future<HttpResponse<String>> call : calls) {
            HttpResponse<String> r = call.get();
            assertThat(r.statusCode()).isEqualTo(401);
            assertThat(r.body()).contains("key id (kid)");
        }
        pool.shutdown();
        long elapsed = Duration.ofNanos(System.nanoTime() - start).toMillis();
        assertThat(keycloak.jwksFetches.get() - before).as("fetches in %d ms", elapsed)
                .isLessThanOrEqualTo(1 + (int) (elapsed / REFRESH.toMillis()));
    }

    @Test
    void onTheMessagesApiA401IsInAnthropicsShapeAndATokenWorksInXApiKey() {
        String body = "{\"model\":\"mock-gpt\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        String expired = keycloak.token(keycloak.claims(AUDIENCE, "late")
                .expirationTime(Date.from(Instant.now().minus(Duration.ofHours(1)))));
        HttpResponse<String> refused = gateway.post("/v1/messages", body, "x-api-key", expired,
                "anthropic-version", "2023-06-01", "Content-Type", "application/json");
        assertThat(refused.statusCode()).isEqualTo(401);
        JsonNode error = Json.parseObjectOrNull(refused.body());
        assertThat(error.path("type").asText()).isEqualTo("error");
        assertThat(error.path("error").path("type").asText()).isEqualTo("authentication_error");
        assertThat(error.path("error").path("message").asText()).contains("expired");

        HttpResponse<String> ok = gateway.post("/v1/messages", body, "x-api-key", keycloakToken("svc-claude", "research"),
                "anthropic-version", "2023-06-01", "Content-Type", "application/json");
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        assertThat(Json.parseObjectOrNull(ok.body()).path("type").asText()).isEqualTo("message");
    }

    @Test
    void withoutAJwksUrlTheKeysAreFoundThroughDiscoveryOnce() {
        chatAs(keycloakToken("svc-discovery", "research"), "mock-gpt");
        chatAs(keycloakToken("svc-discovery", "research"), "mock-gpt");
        assertThat(keycloak.discoveryFetches.get()).isEqualTo(1);
        assertThat(auth0.discoveryFetches.get()).as("a configured jwksUrl needs no discovery").isZero();
    }

    @Test
    void twoIssuersEachWorkWithTheirOwnClaims() {
        assertThat(chatAs(keycloakToken("svc-a", "research"), "other").choices()).isNotEmpty();
        // Auth0: namespaced claims whose names are URLs, dots and all; an audience from a list
        String auth0Token = auth0.token(auth0.claims(AUTH0_AUDIENCE, "client-1@clients")
                .claim("https://caravan.example/team", "search"));
        assertThat(chatAs(auth0Token, "mock-gpt").choices()).isNotEmpty();
        assertThatThrownBy(() -> chatAs(auth0Token, "other")).isInstanceOf(PermissionDeniedException.class);
        // each issuer's keys are its own: a token naming Auth0 but signed by Keycloak's key does not verify
        String crossed = TestIssuer.sign(keycloak.rsa, JWSAlgorithm.RS256,
                auth0.claims(AUTH0_AUDIENCE, "x").build());
        refused(crossed, "signature");
    }

    @Test
    void theTeamIsTheFirstConfiguredOneTheTokenNamesElseTheDefault() {
        // an array: the first value that names a configured team wins
        String token = keycloak.token(keycloak.claims(AUDIENCE, "svc-groups").claim("team", List.of("nope", "search")));
        assertThatThrownBy(() -> chatAs(token, "other")).isInstanceOf(PermissionDeniedException.class);
        // none known, a default configured: the default team (research may call every model)
        String fallsBack = auth0.token(auth0.claims(AUTH0_AUDIENCE, "client-2@clients")
                .claim("https://caravan.example/team", "unknown-team"));
        assertThat(chatAs(fallsBack, "other").choices()).isNotEmpty();
    }

    @Test
    void aTokenNamingOnlyATeamTheGatewayDoesNotHaveGets403WithoutADefault() {
        assertThatThrownBy(() -> chatAs(keycloakToken("svc-lost", "marketing"), "mock-gpt"))
                .isInstanceOfSatisfying(PermissionDeniedException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(403);
                    assertThat(e.code()).hasValue("team_not_found");
                    assertThat(e.getMessage()).contains("'marketing'").contains("defaults.team");
                });
    }

    @Test
    void aTokensRoleAndTeamScopeTheAdminApiAsAKeysWould() {
        String teamAdmin = keycloakToken("ops-team-admin", "research", "offline_access", "team-admin");
        String viewer = keycloakToken("ops-viewer-2", "research", "viewer");
        java.util.function.BiFunction<String, String, HttpResponse<String>> makeKey = (token, team) -> gateway.send(
                gateway.request("/admin/keys", "Authorization", "Bearer " + token, "Content-Type", "application/json")
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"team\":\"" + team + "\"}")).build());
        HttpResponse<String> made = makeKey.apply(teamAdmin, "research");
        assertThat(made.statusCode()).as(made.body()).isEqualTo(201);
        assertThat(made.body()).contains("\"team\":\"research\"").contains("sk-cvn-");
        assertThat(makeKey.apply(teamAdmin, "search").statusCode()).as("another team: not found").isEqualTo(404);
        assertThat(makeKey.apply(viewer, "research").statusCode()).isEqualTo(403);
        assertThat(gateway.get("/admin/spend", "Authorization", "Bearer " + viewer).statusCode()).isEqualTo(200);
    }

    @Test
    void keycloakRealmRolesGiveTheAdminAndViewerRoles() {
        String admin = keycloakToken("ops-admin", "research", "offline_access", "uma_authorization", "admin");
        String viewer = keycloakToken("ops-viewer", "research", "default-roles-acme", "viewer");
        String user = keycloakToken("ops-user", "research", "offline_access");
        assertThat(gateway.send(gateway.request("/admin/cache", "Authorization", "Bearer " + admin).DELETE().build())
                .statusCode()).isEqualTo(200);
        HttpResponse<String> notAdmin = gateway.send(gateway.request("/admin/cache", "Authorization", "Bearer " + user)
                .DELETE().build());
        assertThat(notAdmin.statusCode()).isEqualTo(403);
        assertThat(notAdmin.body()).contains("insufficient_role");
        assertThat(gateway.get("/metrics", "Authorization", "Bearer " + viewer).statusCode()).isEqualTo(200);
        assertThat(gateway.get("/metrics", "Authorization", "Bearer " + user).statusCode()).isEqualTo(403);
        assertThat(gateway.get("/metrics", "Authorization", "Bearer " + keycloakToken("x", "research")
                .replace('.', '_')).statusCode()).as("not a token: an unknown key").isEqualTo(401);
    }

    @Test
    void aJwksServerDownAtFirstUseGives401NotAHangAndTheGatewayRecovers() throws Exception {
        String token = flaky.token(flaky.claims(AUDIENCE, "svc-flaky"));
        long start = System.nanoTime();
        refused(token, "could not be fetched");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(6));
        flaky.serve();
        TestGateway.eventually(() -> gateway.post("/v1/chat/completions",
                "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "Authorization", "Bearer " + token).statusCode() == 200, "the token works once the JWKS is back");
        assertThat(flaky.jwksFetches.get()).isEqualTo(1);
    }

    @Test
    void aJwksServerThatNeverAnswersGives401WithinTheFetchTimeoutAndHoldsNoEventLoop() throws Exception {
        String token = stalled.token(stalled.claims(AUDIENCE, "svc-stalled"));
        OpenAIClient master = gateway.openai(TestGateway.MASTER_KEY);
        master.chat().completions().create(chat("mock-gpt")); // the client warm, so what is timed is the gateway
        long start = System.nanoTime();
        CompletableFuture<Void> waiting = CompletableFuture.runAsync(() -> refused(token, "could not be fetched"));
        Thread.sleep(500); // the fetch is under way
        for (int i = 0; i < 5; i++) { // meanwhile other callers are served, on the same event loops, long before 5 s
            long one = System.nanoTime();
            assertThat(master.chat().completions().create(chat("mock-gpt")).choices()).isNotEmpty();
            assertThat(Duration.ofNanos(System.nanoTime() - one)).isLessThan(Duration.ofSeconds(2));
        }
        assertThat(waiting).isNotDone();
        waiting.get(10, TimeUnit.SECONDS);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofSeconds(4), Duration.ofSeconds(8));
    }

    @Test
    void virtualKeysKeepWorkingBesideTokens() {
        assertThat(chatAs(TestGateway.MASTER_KEY, "mock-gpt").choices()).isNotEmpty();
        assertThatThrownBy(() -> chatAs("sk-not-a-key", "mock-gpt")).isInstanceOfSatisfying(UnauthorizedException.class,
                e -> assertThat(e.getMessage()).contains("Incorrect API key provided."));
    }

    @Test
    void noTokenReachesALogLine() throws Exception {
        String valid = keycloakToken("svc-logs", "research");
        String expired = keycloak.token(keycloak.claims(AUDIENCE, "svc-logs")
                .expirationTime(Date.from(Instant.now().minus(Duration.ofHours(2)))));
        String forged = TestIssuer.sign(TestIssuer.rsaKey("rsa-1"), JWSAlgorithm.RS256,
                keycloak.claims(AUDIENCE, "svc-logs").build());
        String unknownKid = TestIssuer.sign(TestIssuer.rsaKey("nobody"), JWSAlgorithm.RS256,
                keycloak.claims(AUDIENCE, "svc-logs").build());
        String unknownTeam = keycloakToken("svc-logs", "no-such-team");
        chatAs(valid, "mock-gpt");
        for (String bad : List.of(expired, forged, unknownKid, unknownTeam)) {
            assertThatThrownBy(() -> chatAs(bad, "mock-gpt")).isInstanceOf(OpenAIServiceException.class);
        }
        TestGateway.eventually(() -> logLines().stream().filter(l -> l.startsWith("caravan.access")
                && l.contains("svc-logs")).count() >= 1, "the access lines are written");
        Thread.sleep(300); // the async access log
        String all = String.join("\n", logLines());
        for (String token : List.of(valid, expired, forged, unknownKid, unknownTeam)) {
            String[] parts = token.split("\\.");
            assertThat(all).doesNotContain(parts[1]).doesNotContain(parts[2]);
        }
    }

    @Test
    void withNoIssuerATokenIsAnUnknownKeyAndAReloadAddsOrRemovesIssuers() throws Exception {
        try (TestIssuer own = new TestIssuer(TestGateway.freePort(), "/realms/reload", false).serve();
             TestGateway plain = TestGateway.start(config())) {
            String token = own.token(own.claims(AUDIENCE, "svc-reload"));
            String chat = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
            HttpResponse<String> unknown = plain.post("/v1/chat/completions", chat, "Authorization", "Bearer " + token);
            assertThat(unknown.statusCode()).isEqualTo(401);
            assertThat(unknown.body()).contains("Incorrect API key provided.");

            Files.writeString(plain.configFile(), config(own));
            TestGateway.eventually(() -> plain.post("/v1/chat/completions", chat, "Authorization", "Bearer " + token)
                    .statusCode() == 200, "the issuer added by a reload is trusted");

            Files.writeString(plain.configFile(), config());
            TestGateway.eventually(() -> plain.post("/v1/chat/completions", chat, "Authorization", "Bearer " + token)
                    .body().contains("Incorrect API key provided."), "the issuer removed by a reload is not");
        }
    }
}
