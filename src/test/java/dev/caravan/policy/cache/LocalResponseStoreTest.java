package dev.caravan.policy.cache;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** The contract in this process, and the two bounds: entries and bytes, each holding whichever binds first. */
class LocalResponseStoreTest extends ResponseStoreContract {

    final LocalResponseStore store = new LocalResponseStore(1000, 64L * 1024 * 1024);

    @Override
    protected ResponseStore store() {
        return store;
    }

    /** An answer whose {@link StoredAnswer#weight()} is {@code weight} bytes. */
    static StoredAnswer weighing(int weight) {
        return answer("a", "m", "x".repeat(weight - 200));
    }

    static long held(LocalResponseStore store, int keys) {
        store.cleanUp();
        return IntStream.range(0, keys).filter(i -> store.get("k" + i).toCompletableFuture().join().isPresent()).count();
    }

    @Test
    void everyStageIsCompleteWhenReturned() {
        assertThat(store.put("k", weighing(300), MINUTE).toCompletableFuture()).isDone();
        assertThat(store.get("k").toCompletableFuture()).isDone();
        assertThat(store.clear(null, null).toCompletableFuture()).isDone();
    }

    @Test
    void pastTheEntryBoundAsManyEntriesAsTheBoundAreLeft() {
        LocalResponseStore bounded = new LocalResponseStore(100, 64L * 1024 * 1024); // bytes far from binding
        for (int i = 0; i < 250; i++) {
            bounded.put("k" + i, weighing(300), MINUTE);
        }

        assertThat(held(bounded, 250)).isEqualTo(100);
        assertThat(bounded.entries()).isEqualTo(100);
        assertThat(bounded.bytes()).isEqualTo(100 * 300);
    }

    @Test
    void pastTheByteBoundAsManyBytesAsTheBoundAreLeft() {
        LocalResponseStore bounded = new LocalResponseStore(100_000, 10_000); // entries far from binding
        for (int i = 0; i < 50; i++) {
            bounded.put("k" + i, weighing(1000), MINUTE);
        }

        assertThat(held(bounded, 50)).isEqualTo(10);
        assertThat(bounded.entries()).isEqualTo(10);
        assertThat(bounded.bytes()).isEqualTo(10_000);
    }

    @Test
    void withSmallAndLargeAnswersMixedNeitherBoundIsEverPassed() {
        LocalResponseStore bounded = new LocalResponseStore(50, 100_000);
        for (int i = 0; i < 500; i++) {
            bounded.put("k" + i, weighing(i % 7 == 0 ? 20_000 : 250), MINUTE);
            bounded.cleanUp();

            assertThat(bounded.entries()).isLessThanOrEqualTo(50);
            assertThat(bounded.bytes()).isLessThanOrEqualTo(100_000);
        }
        assertThat(held(bounded, 500)).isEqualTo(bounded.entries()).isPositive();
    }

    @Test
    void anAnswerHeavierThanTheByteBoundIsNotStoredAndWhatWasThereIsRemoved() {
        LocalResponseStore bounded = new LocalResponseStore(100, 10_000);
        bounded.put("k0", weighing(1000), MINUTE);
        bounded.put("k1", weighing(10_000), MINUTE); // exactly the bound: stored, alone

        bounded.put("k0", weighing(10_001), MINUTE);

        assertThat(bounded.get("k0").toCompletableFuture().join()).isEmpty();
        assertThat(bounded.get("k1").toCompletableFuture().join()).isPresent();
        assertThat(bounded.entries()).isEqualTo(1);
        assertThat(bounded.bytes()).isEqualTo(10_000);
    }

    @Test
    void bytesAreTheSumOfTheWeightsHeldAndExpiredEntriesLeaveThem() throws Exception {
        store.put("a", weighing(500), MINUTE);
        store.put("b", weighing(700), Duration.ofMillis(100));
        store.put("a", weighing(900), MINUTE); // replaces 500
        long before = store.bytes();

        eventually(() -> store.entries() == 1, Duration.ofSeconds(5)); // Caffeine's scheduler removes it, unasked

        assertThat(before).isEqualTo(900 + 700);
        assertThat(store.entries()).isEqualTo(1);
        assertThat(store.bytes()).isEqualTo(900);
    }
}
