package dev.caravan.policy.cache;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What every {@link ResponseStore} does, in this process or in Redis: one set of tests, run by
 * {@link LocalResponseStoreTest} and {@link RedisResponseStoreTest}. TTLs run on the wall clock, short ones.
 */
abstract class ResponseStoreContract {

    static final Duration MINUTE = Duration.ofMinutes(1);

    /** The store under test, empty when a test starts. */
    protected abstract ResponseStore store();

    /** Brings {@link ResponseStore#entries()} and {@link ResponseStore#bytes()} up to date (a shared store samples). */
    protected void refreshEstimates() {
    }

    static StoredAnswer answer(String namespace, String model, String body) {
        return new StoredAnswer(body.getBytes(StandardCharsets.UTF_8), 1234, model, namespace, 1_800_000_000_000L);
    }

    static <T> T get(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    static void eventually(BooleanSupplier condition, Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    Optional<StoredAnswer> lookup(String key) throws Exception {
        return get(store().get(key));
    }

    void put(String key, StoredAnswer answer, Duration ttl) throws Exception {
        get(store().put(key, answer, ttl));
    }

    /** Stores six answers: namespaces a and b, models m1, m2 and m3. */
    void storeSix() throws Exception {
        put("a1", answer("a", "m1", "{}"), MINUTE);
        put("a2", answer("a", "m2", "{}"), MINUTE);
        put("a3", answer("a", "m3", "{}"), MINUTE);
        put("b1", answer("b", "m1", "{}"), MINUTE);
        put("b2", answer("b", "m2", "{}"), MINUTE);
        put("b3", answer("b", "m3", "{}"), MINUTE);
    }

    boolean held(String key) {
        try {
            return lookup(key).isPresent();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void aStoredAnswerIsReturnedWholeByItsKeyAndByNoOther() throws Exception {
        StoredAnswer stored = new StoredAnswer("{\"id\":\"chatcmpl-1\",\"choices\":[]}".getBytes(StandardCharsets.UTF_8),
                987_654_321L, "gpt-4o-mini", "team-ä", 1_800_000_123_456L);

        put("k1", stored, MINUTE);

        StoredAnswer found = lookup("k1").orElseThrow();
        assertThat(found.body()).isEqualTo(stored.body());
        assertThat(found.costNanos()).isEqualTo(987_654_321L);
        assertThat(found.model()).isEqualTo("gpt-4o-mini");
        assertThat(found.namespace()).isEqualTo("team-ä");
        assertThat(found.storedAtMillis()).isEqualTo(1_800_000_123_456L);
        assertThat(lookup("k2")).isEmpty();
    }

    @Test
    void eachEntryExpiresAfterItsOwnTtl() throws Exception {
        put("short", answer("a", "m", "{}"), Duration.ofMillis(300));
        put("long", answer("a", "m", "{}"), MINUTE);
        boolean shortThere = held("short");

        eventually(() -> !held("short"), Duration.ofSeconds(3));

        assertThat(shortThere).isTrue();
        assertThat(held("short")).as("expired after 300 ms").isFalse();
        assertThat(held("long")).isTrue();
    }

    @Test
    void aPutReplacesWhatWasThereAndItsTtl() throws Exception {
        put("k", answer("a", "m", "{\"v\":1}"), MINUTE);
        put("k", answer("a", "m", "{\"v\":2}"), Duration.ofMillis(300));

        String found = new String(lookup("k").orElseThrow().body(), StandardCharsets.UTF_8);
        refreshEstimates();
        long entries = store().entries();
        eventually(() -> !held("k"), Duration.ofSeconds(3));

        assertThat(found).isEqualTo("{\"v\":2}");
        assertThat(entries).isEqualTo(1);
        assertThat(held("k")).as("the new, shorter TTL holds").isFalse();
    }

    @Test
    void aTtlOfZeroStoresNothingAndRemovesWhatWasThere() throws Exception {
        put("k", answer("a", "m", "{}"), MINUTE);

        put("k", answer("a", "m", "{}"), Duration.ZERO);

        assertThat(lookup("k")).isEmpty();
    }

    @Test
    void clearingANamespaceRemovesItsEntriesOnly() throws Exception {
        storeSix();

        long removed = get(store().clear("a", null));

        assertThat(removed).isEqualTo(3);
        assertThat(held("a1") || held("a2") || held("a3")).isFalse();
        assertThat(held("b1") && held("b2") && held("b3")).isTrue();
    }

    @Test
    void clearingAModelRemovesItsEntriesInEveryNamespace() throws Exception {
        storeSix();

        long removed = get(store().clear(null, "m2"));

        assertThat(removed).isEqualTo(2);
        assertThat(held("a2") || held("b2")).isFalse();
        assertThat(held("a1") && held("a3") && held("b1") && held("b3")).isTrue();
    }

    @Test
    void clearingANamespaceAndAModelRemovesWhatHasBoth() throws Exception {
        storeSix();

        long removed = get(store().clear("b", "m3"));

        assertThat(removed).isEqualTo(1);
        assertThat(held("b3")).isFalse();
        assertThat(held("a1") && held("a2") && held("a3") && held("b1") && held("b2")).isTrue();
    }

    @Test
    void clearingEverythingRemovesEveryEntryAndCountsThem() throws Exception {
        storeSix();

        long removed = get(store().clear(null, null));
        long again = get(store().clear(null, null));

        assertThat(removed).isEqualTo(6);
        assertThat(again).isZero();
        assertThat(held("a1") || held("b3")).isFalse();
    }

    @Test
    void aClearCountsNoEntryThatHadAlreadyExpired() throws Exception {
        put("gone", answer("a", "m", "{}"), Duration.ofMillis(100));
        put("kept", answer("a", "m", "{}"), MINUTE);
        eventually(() -> !held("gone"), Duration.ofSeconds(3));

        assertThat(get(store().clear("a", null))).isEqualTo(1);
    }

    @Test
    void entriesAndBytesCountWhatIsHeld() throws Exception {
        refreshEstimates();
        long emptyEntries = store().entries();
        long emptyBytes = store().bytes();
        put("small", answer("a", "m", "x".repeat(100)), MINUTE);
        put("large", answer("a", "m", "x".repeat(10_000)), MINUTE);
        refreshEstimates();
        long entries = store().entries();
        long bytes = store().bytes();
        get(store().clear(null, null));
        refreshEstimates();

        assertThat(emptyEntries).isZero();
        assertThat(emptyBytes).isZero();
        assertThat(entries).isEqualTo(2);
        assertThat(bytes).as("at least the bodies").isGreaterThanOrEqualTo(10_100);
        assertThat(store().entries()).isZero();
        assertThat(store().bytes()).isZero();
    }
}
