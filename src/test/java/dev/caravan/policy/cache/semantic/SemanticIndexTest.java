package dev.caravan.policy.cache.semantic;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SemanticIndexTest {

    static final Duration HOUR = Duration.ofHours(1);

    final MutableClock clock = new MutableClock();
    final SemanticIndex index = new SemanticIndex(100, clock);

    @Test
    void aLookupReadsOnlyItsOwnPartition() {
        index.add("tenant-a|gpt-4o|sys1", unit(1, 0, 0), "reset my password", "key-a", "a", "gpt-4o", HOUR);
        index.add("tenant-b|gpt-4o|sys1", unit(1, 0, 0), "reset my password", "key-b", "b", "gpt-4o", HOUR);

        assertThat(index.nearest("tenant-a|gpt-4o|sys1", unit(1, 0, 0), 0.5, 10))
                .extracting(SemanticIndex.Match::exactKey).containsExactly("key-a");
        assertThat(index.nearest("tenant-c|gpt-4o|sys1", unit(1, 0, 0), 0.5, 10)).isEmpty();
    }

    @Test
    void matchesComeBestFirstAndOnlyAtOrAboveTheThreshold() {
        index.add("p", unit(1, 0, 0), "exact", "k1", "ns", "m", HOUR);
        index.add("p", unit(0.9f, 0.1f, 0), "close", "k2", "ns", "m", HOUR);
        index.add("p", unit(0.6f, 0.8f, 0), "far", "k3", "ns", "m", HOUR);

        List<SemanticIndex.Match> matches = index.nearest("p", unit(1, 0, 0), 0.9, 10);

        assertThat(matches).extracting(SemanticIndex.Match::prompt).containsExactly("exact", "close");
        assertThat(matches.get(0).similarity()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(matches.get(1).similarity()).isBetween(0.9, 1.0);
    }

    @Test
    void theLimitKeepsTheBestMatches() {
        for (int i = 0; i < 10; i++) {
            index.add("p", unit(1, i / 10f, 0), "prompt " + i, "k" + i, "ns", "m", HOUR);
        }

        assertThat(index.nearest("p", unit(1, 0, 0), 0.0, 3)).extracting(SemanticIndex.Match::exactKey)
                .containsExactly("k0", "k1", "k2");
    }

    @Test
    void anExpiredEntryIsNeverReturned() {
        index.add("p", unit(1, 0, 0), "short-lived", "k1", "ns", "m", Duration.ofSeconds(10));
        index.add("p", unit(1, 0, 0), "long-lived", "k2", "ns", "m", HOUR);

        clock.advance(Duration.ofSeconds(10));

        assertThat(index.nearest("p", unit(1, 0, 0), 0.5, 10)).extracting(SemanticIndex.Match::exactKey)
                .containsExactly("k2");
    }

    @Test
    void expiredEntriesAreSweptByALaterAdd() {
        index.add("p", unit(1, 0, 0), "prompt one", "k1", "ns", "m", Duration.ofSeconds(10));
        long bytesWithOne = index.bytes();
        clock.advance(Duration.ofSeconds(11));

        index.add("q", unit(0, 1, 0), "prompt two", "k2", "ns", "m", HOUR);

        assertThat(index.size()).isEqualTo(1);
        assertThat(index.bytes()).isEqualTo(bytesWithOne);
    }

    @Test
    void atTheBoundTheOldestAddedEntryIsEvicted() {
        SemanticIndex small = new SemanticIndex(3, clock);
        for (int i = 1; i <= 4; i++) {
            small.add("p" + (i % 2), unit(1, 0, 0), "prompt " + i, "k" + i, "ns", "m", HOUR);
        }

        assertThat(small.size()).isEqualTo(3);
        List<String> left = new ArrayList<>();
        small.nearest("p0", unit(1, 0, 0), 0.5, 10).forEach(m -> left.add(m.exactKey()));
        small.nearest("p1", unit(1, 0, 0), 0.5, 10).forEach(m -> left.add(m.exactKey()));
        assertThat(left).containsExactlyInAnyOrder("k2", "k3", "k4");
    }

    @Test
    void reAddingTheSameExactKeyInAPartitionReplacesTheEntry() {
        index.add("p", unit(1, 0, 0), "first wording", "k", "ns", "m", HOUR);
        index.add("p", unit(0, 1, 0), "second wording", "k", "ns", "m", HOUR);

        assertThat(index.size()).isEqualTo(1);
        assertThat(index.nearest("p", unit(1, 0, 0), 0.5, 10)).isEmpty();
        assertThat(index.nearest("p", unit(0, 1, 0), 0.5, 10)).extracting(SemanticIndex.Match::prompt)
                .containsExactly("second wording");
    }

    @Test
    void theSameExactKeyInAnotherPartitionIsAnotherEntry() {
        index.add("p", unit(1, 0, 0), "a", "k", "ns", "m", HOUR);
        index.add("q", unit(1, 0, 0), "a", "k", "ns", "m", HOUR);

        assertThat(index.size()).isEqualTo(2);
    }

    @Test
    void clearRemovesByNamespaceAndModelWithNullMatchingAny() {
        index.add("p1", unit(1, 0, 0), "a", "k1", "team-a", "gpt-4o", HOUR);
        index.add("p2", unit(1, 0, 0), "b", "k2", "team-a", "claude", HOUR);
        index.add("p3", unit(1, 0, 0), "c", "k3", "team-b", "gpt-4o", HOUR);
        index.add("p4", unit(1, 0, 0), "d", "k4", "team-b", "claude", HOUR);

        assertThat(index.clear("team-a", "gpt-4o")).isEqualTo(1);
        assertThat(index.clear(null, "claude")).isEqualTo(2);
        assertThat(index.nearest("p3", unit(1, 0, 0), 0.5, 10)).hasSize(1);
        assertThat(index.clear(null, null)).isEqualTo(1);
        assertThat(index.size()).isZero();
        assertThat(index.bytes()).isZero();
    }

    @Test
    void aPromptOverTheLimitIsNotIndexed() {
        index.add("p", unit(1, 0, 0), "x".repeat(SemanticIndex.MAX_PROMPT_CHARS + 1), "k", "ns", "m", HOUR);

        assertThat(index.size()).isZero();
    }

    @Test
    void aVectorOfAnotherLengthIsRefused() {
        index.add("p", unit(1, 0, 0), "a", "k1", "ns", "m", HOUR);

        assertThatThrownBy(() -> index.add("p", new float[]{1, 0}, "b", "k2", "ns", "m", HOUR))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(index.nearest("p", new float[]{1, 0}, 0.5, 10)).isEmpty();
    }

    @Test
    void theIndexKeepsItsOwnCopyOfAVector() {
        float[] v = unit(1, 0, 0);
        index.add("p", v, "a", "k", "ns", "m", HOUR);

        v[0] = 0;
        v[1] = 1;

        assertThat(index.nearest("p", unit(1, 0, 0), 0.99, 10)).hasSize(1);
    }

    @Test
    void theByteEstimateCountsVectorsAndPrompts() {
        index.add("p", new float[384], "a".repeat(100), "k1", "ns", "m", HOUR);

        assertThat(index.bytes()).isBetween(384L * 4 + 200, 384L * 4 + 200 + 400);
    }

    @Test
    void concurrentAddsAndLookupsKeepTheBoundAndSeeOnlyTheirPartition() throws Exception {
        SemanticIndex shared = new SemanticIndex(500, Clock.systemUTC());
        ExecutorService pool = Executors.newFixedThreadPool(4);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Boolean>> results = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            String partition = "p" + t;
            float[] mine = unit(t == 0 ? 1 : 0, t == 1 ? 1 : 0, t == 2 ? 1 : 0);
            results.add(pool.submit(() -> {
                go.await();
                boolean isolated = true;
                for (int i = 0; i < 2_000; i++) {
                    shared.add(partition, mine, partition + " " + i, partition + i, "ns", "m", HOUR);
                    for (SemanticIndex.Match m : shared.nearest(partition, mine, 0.0, 5)) {
                        isolated &= m.prompt().startsWith(partition + " ");
                    }
                }
                return isolated;
            }));
        }
        go.countDown();
        for (Future<Boolean> r : results) {
            assertThat(r.get()).isTrue();
        }
        pool.shutdown();
        assertThat(shared.size()).isEqualTo(500);
    }

    // ---------------------------------------------------------------------------------------------- helpers

    static float[] unit(float... head) {
        float[] v = new float[3];
        double norm = 0;
        for (int i = 0; i < head.length; i++) {
            v[i] = head[i];
            norm += head[i] * head[i];
        }
        for (int i = 0; i < v.length; i++) {
            v[i] /= (float) Math.sqrt(norm);
        }
        return v;
    }

    static final class MutableClock extends Clock {
        private Instant now = Instant.parse("2026-12-01T00:00:00Z");

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
