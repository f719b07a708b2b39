package dev.caravan.admin;

import dev.caravan.TestGateway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.function.IntPredicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two replicas sharing the real PostgreSQL (a schema of this test's own) and Redis on this machine: a key made,
 * changed, rotated or revoked on one is honoured by the other within 2 s. Either service down fails the test.
 */
class KeyChangesAcrossReplicasTest {

    static dev.caravan.PostgresSchema schema;
    static TestGateway first;
    static TestGateway second;
    static AdminCalls onFirst;
    static AdminCalls onSecond;

    @BeforeAll
    static void start() throws Exception {
        schema = dev.caravan.PostgresSchema.create("keys_test");
        Map<String, String> shared = Map.of("caravan.db.url", schema.url(),
                "caravan.redisUrl", "redis://127.0.0.1:6379", "caravan.redisPrefix", schema.name() + ":");
        first = TestGateway.start(KeyLifecycleTest.CONFIG, shared);
        second = TestGateway.start(KeyLifecycleTest.CONFIG, shared);
        onFirst = new AdminCalls(first, TestGateway.MASTER_KEY);
        onSecond = new AdminCalls(second, TestGateway.MASTER_KEY);
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            first.close();
            second.close();
        } finally {
            schema.close();
        }
    }

    /** Milliseconds until the chat status with {@code key} on {@code on} satisfies {@code wanted}; fails past 2 s. */
    static long within2s(AdminCalls on, String key, IntPredicate wanted, String what) throws InterruptedException {
        long start = System.nanoTime();
        while (!wanted.test(on.chat(key, "mock-gpt"))) {
            long waited = (System.nanoTime() - start) / 1_000_000;
            assertThat(waited).as(what + " on the other replica within 2 s").isLessThan(2_000);
            Thread.sleep(20);
        }
        long waited = (System.nanoTime() - start) / 1_000_000;
        System.out.println("replicas: " + what + " after " + waited + " ms"); // how long the other replica took
        return waited;
    }

    @Test
    void aKeyMadeOnOneReplicaWorksOnTheOtherAndItsRevocationToo() throws Exception {
        String secret = onFirst.post("/admin/keys", "{\"id\":\"shared-key\"}").text("key");
        assertThat(onFirst.chat(secret, "mock-gpt")).isEqualTo(200);
        within2s(onSecond, secret, s -> s == 200, "a new key accepted");

        assertThat(onSecond.delete("/admin/keys/shared-key").status()).isEqualTo(200);
        assertThat(onSecond.chat(secret, "mock-gpt")).as("revoked on the replica that revoked it: at once").isEqualTo(401);
        within2s(onFirst, secret, s -> s == 401, "a revoked key refused");
    }

    @Test
    void aRotationOnOneReplicaRetiresTheOldSecretOnTheOther() throws Exception {
        String old = onFirst.post("/admin/keys", "{\"id\":\"rotated-key\"}").text("key");
        within2s(onSecond, old, s -> s == 200, "a new key accepted");

        String fresh = onFirst.post("/admin/keys/rotated-key/rotate", null).text("key");
        assertThat(onFirst.chat(old, "mock-gpt")).isEqualTo(401);
        within2s(onSecond, old, s -> s == 401, "the old secret refused");
        within2s(onSecond, fresh, s -> s == 200, "the new secret accepted");
    }

    @Test
    void aTeamsModelsChangedOnOneReplicaBindItsKeysOnTheOther() throws Exception {
        onSecond.post("/admin/teams", "{\"id\":\"narrow\"}");
        String secret = onSecond.post("/admin/keys", "{\"id\":\"narrow-key\",\"team\":\"narrow\"}").text("key");
        within2s(onFirst, secret, s -> s == 200, "a new key accepted");

        assertThat(onSecond.patch("/admin/teams/narrow", "{\"models\":[\"mock-other\"]}").status()).isEqualTo(200);
        within2s(onFirst, secret, s -> s == 403, "the team's narrowed models enforced");
    }
}
