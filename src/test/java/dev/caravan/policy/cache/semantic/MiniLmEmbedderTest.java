package dev.caravan.policy.cache.semantic;

import dev.caravan.work.CpuPool;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MiniLmEmbedderTest {

    static CpuPool cpu;
    static MiniLmEmbedder embedder;

    @BeforeAll
    static void load() {
        cpu = new CpuPool(2, 1_024, List.of(), new SimpleMeterRegistry());
        embedder = new MiniLmEmbedder(cpu);
        embedder.warm();
    }

    @AfterAll
    static void close() {
        embedder.close();
        cpu.close();
    }

    @Test
    void embeddingRunsOnTheCpuPoolNotOnTheCaller() {
        AtomicReference<String> thread = new AtomicReference<>();
        // read on the embedding's own thread: a thenApply on the returned stage may run on the caller once it is done
        float[] v = embedder.embedThen("How do I reset my password?", x -> {
            thread.set(Thread.currentThread().getName());
            return x;
        }).toCompletableFuture().join();

        assertThat(v).hasSize(384);
        assertThat(thread.get()).startsWith("caravan-cpu-");
    }

    @Test
    void vectorsHave384DimensionsAndUnitLength() {
        float[] v = embed("What is the capital of Australia?");

        assertThat(embedder.dimensions()).isEqualTo(384);
        assertThat(v).hasSize(384);
        assertThat(norm(v)).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-4));
    }

    @Test
    void aParaphraseScoresAboveAnUnrelatedQuestion() {
        float[] q = embed("How do I reverse a string in Python?");

        assertThat(dot(q, embed("In Python, how can I reverse a string?")))
                .isGreaterThan(dot(q, embed("What is the capital of Australia?")) + 0.3);
    }

    @Test
    void concurrentEmbedsGiveTheSameVectorAsOne() {
        float[] alone = embed("The quick brown fox jumps over the lazy dog");
        List<CompletableFuture<float[]>> many = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            many.add(embedder.embed("The quick brown fox jumps over the lazy dog").toCompletableFuture());
        }

        for (CompletableFuture<float[]> f : many) {
            assertThat(f.join()).containsExactly(alone);
        }
    }

    @Test
    void textBeyondTheCapDoesNotChangeTheVector() {
        String head = "word ".repeat(MiniLmEmbedder.MAX_CHARS / 5);

        assertThat(embed(head + "and a tail about something else entirely")).containsExactly(embed(head));
        assertThat(MiniLmEmbedder.cap(head + "tail")).hasSizeLessThanOrEqualTo(MiniLmEmbedder.MAX_CHARS);
    }

    @Test
    void blankTextIsTheZeroVectorWhichMatchesNothing() {
        assertThat(embed("   ")).hasSize(384).containsOnly(0f);
    }

    @Test
    void aClosedEmbedderRefusesToEmbed() {
        try (CpuPool own = new CpuPool(1, 8, List.of(), new SimpleMeterRegistry())) {
            MiniLmEmbedder closed = new MiniLmEmbedder(own);
            closed.close();

            assertThatThrownBy(() -> closed.embed("anything").toCompletableFuture().join())
                    .hasCauseInstanceOf(IllegalStateException.class);
        }
    }

    private static float[] embed(String text) {
        return embedder.embed(text).toCompletableFuture().join();
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static double norm(float[] v) {
        return Math.sqrt(dot(v, v));
    }
}
