package dev.caravan.policy.cache.semantic;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.caravan.redis.LuaScript;
import dev.caravan.policy.cache.semantic.SemanticShare.Addition;
import dev.caravan.policy.counters.RedisServerProcess;
import io.lettuce.core.KillArgs;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Replicas sharing their semantic indexes through the Redis at 127.0.0.1:6379 (no vector search there): each hears
 * the others' additions and clears, not its own, and one that starts later loads the recent ones. Without a Redis
 * at 6379, or redis-server on the PATH, this class fails: nothing here skips.
 */
class SemanticShareTest {

    static final String URL = "redis://127.0.0.1:6379/0";
    static final String PREFIX = "caravan-test:" + UUID.randomUUID() + ":";
    static final String STREAM = PREFIX + "cache:semantic:recent";

    static RedisClient admin;
    static StatefulRedisConnection<String, String> adminConnection;
    static RedisCommands<String, String> redis;

    final List<SemanticShare> shares = new ArrayList<>();

    /** A replica: its share and what it heard. */
    record Replica(SemanticShare share, BlockingQueue<Addition> additions, BlockingQueue<List<String>> clears) {
    }

    @BeforeAll
    static void connect() {
        admin = RedisClient.create(URL);
        adminConnection = admin.connect(); // throws when no Redis answers: the class fails, as it should
        redis = adminConnection.sync();
    }

    @AfterEach
    void closeShares() {
        shares.forEach(SemanticShare::close);
        List<String> keys = redis.keys(PREFIX + "*");
        if (!keys.isEmpty()) {
            redis.del(keys.toArray(String[]::new));
        }
    }

    @AfterAll
    static void disconnect() {
        adminConnection.close();
        admin.shutdown();
    }

    Replica replica(String url, int maxEntries) throws InterruptedException {
        BlockingQueue<Addition> additions = new LinkedBlockingQueue<>();
        BlockingQueue<List<String>> clears = new LinkedBlockingQueue<>();
        SemanticShare share = SemanticShare.connect(url, PREFIX, maxEntries, additions::add,
                (namespace, model) -> clears.add(Arrays.asList(namespace, model)), new SimpleMeterRegistry());
        shares.add(share);
        eventually(share::subscribed);
        assertThat(share.subscribed()).as("subscribed").isTrue();
        return new Replica(share, additions, clears);
    }

    Replica replica() throws InterruptedException {
        return replica(URL, 1000);
    }

    static Addition addition(String exactKey, String namespace, float... vector) {
        return new Addition("gpt-4o-mini|t0.0", vector, "what is " + exactKey + "?", exactKey, namespace, "gpt-4o-mini", 60_000);
    }

    static void eventually(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
    }

    static String newestInTheStream() {
        return redis.xrevrange(STREAM, Range.create("-", "+"), Limit.from(1)).stream()
                .map(m -> m.getBody().get("m")).findFirst().orElse("");
    }

    static int[] bits(float[] vector) {
        int[] bits = new int[vector.length];
        for (int i = 0; i < vector.length; i++) {
            bits[i] = Float.floatToRawIntBits(vector[i]);
        }
        return bits;
    }

    @Test
    void anAdditionPublishedByOneReplicaArrivesAtTheOtherWithTheSameVectorBits() throws Exception {
        Replica a = replica();
        Replica b = replica();
        float[] vector = {0.1f, -0.0f, Float.MIN_VALUE, -1f, 0.70710677f, Float.MAX_VALUE};

        a.share().publish(addition("k1", "team-a", vector));
        Addition heard = b.additions().poll(5, TimeUnit.SECONDS);

        assertThat(heard).isNotNull();
        assertThat(bits(heard.vector())).isEqualTo(bits(vector));
        assertThat(heard.partition()).isEqualTo("gpt-4o-mini|t0.0");
        assertThat(heard.prompt()).isEqualTo("what is k1?");
        assertThat(heard.exactKey()).isEqualTo("k1");
        assertThat(heard.namespace()).isEqualTo("team-a");
        assertThat(heard.model()).isEqualTo("gpt-4o-mini");
        assertThat(heard.ttlMillis()).isBetween(55_000L, 60_000L);
    }

    @Test
    void aReplicaDoesNotHearItsOwnPublications() throws Exception {
        Replica a = replica();
        Replica b = replica();

        a.share().publish(addition("mine", "n", 1f));
        b.share().publish(addition("theirs", "n", 2f)); // after a's on the channel: heard once a's would have been
        Addition first = a.additions().poll(5, TimeUnit.SECONDS);

        assertThat(first).isNotNull();
        assertThat(first.exactKey()).isEqualTo("theirs");
        assertThat(a.additions()).isEmpty();
    }

    @Test
    void aClearPublishedByOneReplicaReachesTheOthers() throws Exception {
        Replica a = replica();
        Replica b = replica();

        a.share().publishClear("team-a", null);
        a.share().publishClear(null, "gpt-4o");

        assertThat(b.clears().poll(5, TimeUnit.SECONDS)).containsExactly("team-a", null);
        assertThat(b.clears().poll(5, TimeUnit.SECONDS)).containsExactly(null, "gpt-4o");
        assertThat(a.clears()).isEmpty();
    }

    @Test
    void aReplicaThatStartsLaterLoadsTheRecentAdditionsOldestFirstWithoutTheClearedOnes() throws Exception {
        Replica a = replica();
        a.share().publish(addition("k1", "team-a", 1f, 2f));
        a.share().publish(addition("k2", "team-b", 3f, 4f));
        a.share().publishClear("team-b", null);
        a.share().publish(addition("k3", "team-b", 5f, 6f));
        eventually(() -> redis.xlen(STREAM) == 4);

        Replica late = replica();
        List<Addition> recent = late.share().recent();

        assertThat(recent).extracting(Addition::exactKey).containsExactly("k1", "k3");
        assertThat(bits(recent.get(1).vector())).isEqualTo(bits(new float[]{5f, 6f}));
        assertThat(recent.get(0).ttlMillis()).as("what it has left").isBetween(50_000L, 60_000L);
        assertThat(late.additions()).as("none heard live twice").isEmpty();
    }

    @Test
    void theRecentAdditionsAreAtMostMaxEntriesTheNewest() throws Exception {
        Replica a = replica(URL, 5);
        for (int i = 0; i < 30; i++) {
            a.share().publish(addition("k" + i, "n", i));
        }
        eventually(() -> newestInTheStream().contains("\"k29\"")); // one connection: all before it are in

        List<Addition> recent = replica(URL, 5).share().recent();

        assertThat(recent).extracting(Addition::exactKey).containsExactly("k25", "k26", "k27", "k28", "k29");
    }

    @Test
    void anAdditionWhoseTtlHasPassedIsNotLoaded() throws Exception {
        Replica a = replica();
        a.share().publish(new Addition("p", new float[]{1f}, "q", "short", "n", "m", 100));
        a.share().publish(addition("long", "n", 1f));
        eventually(() -> redis.xlen(STREAM) == 2);
        Thread.sleep(200);

        List<Addition> recent = replica().share().recent();

        assertThat(recent).extracting(Addition::exactKey).containsExactly("long");
    }

    @Test
    void theStreamOfRecentAdditionsExpiresWithItsLongestAddition() throws Exception {
        Replica a = replica();
        a.share().publish(addition("k", "n", 1f)); // 60 s
        eventually(() -> redis.xlen(STREAM) == 1);

        assertThat(redis.pttl(STREAM)).isBetween(50_000L, 60_000L);
    }

    @Test
    void aReplicaCutOffFromTheChannelReadsOnWhatItMissedWhenItSubscribesAgain() throws Exception {
        try (RedisServerProcess server = RedisServerProcess.start()) {
            Replica b = replica(server.url(), 1000);
            assertThat(b.share().recent()).isEmpty();
            String missed = new ObjectMapper().writeValueAsString(new SemanticShare.Message("another-replica", "add",
                    "p", SemanticShare.encode(new float[]{0.5f}), "q", "missed", "n", "m", 60_000));
            RedisClient client = RedisClient.create(server.url());
            try (StatefulRedisConnection<String, String> c = client.connect()) {
                RedisCommands<String, String> r = c.sync();
                r.multi(); // cut every subscriber off, then publish: b cannot hear it live
                r.clientKill(KillArgs.Builder.typePubsub());
                r.eval(LuaScript.load("cache-share").text(), ScriptOutputType.VALUE, new String[]{STREAM},
                        missed, "1000", PREFIX + "cache:semantic", "60000");
                r.exec();
            } finally {
                client.shutdown();
            }

            Addition heard = b.additions().poll(5, TimeUnit.SECONDS);

            assertThat(heard).isNotNull();
            assertThat(heard.exactKey()).isEqualTo("missed");
            assertThat(b.additions().poll(300, TimeUnit.MILLISECONDS)).as("once").isNull();
        }
    }
}
