package dev.caravan.transport.bus;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The bus's reply memory, in process and in the real Redis at 127.0.0.1:6379 (CI starts it). */
class ReplyMemoryTest {

    private static final String REDIS = "redis://127.0.0.1:6379";
    private static final BusReply OK = new BusReply(200, "{\"id\":\"a\"}".getBytes(), Map.of(BusReply.STATUS, "200"), null);

    private static String prefix() {
        return "caravan-test-" + UUID.randomUUID() + ":";
    }

    @Test
    void aRememberedReplyIsGivenAgainAndAForgottenMessageIsClaimedAnew() throws Exception {
        ReplyMemory memory = new LocalReplyMemory(1 << 20, Duration.ofMinutes(5));
        assertThat(memory.claim("k")).isInstanceOf(ReplyMemory.Owned.class);
        memory.remember("k", OK);
        assertThat(memory.claim("k")).isEqualTo(new ReplyMemory.Remembered(OK));
        assertThat(memory.claim("j")).isInstanceOf(ReplyMemory.Owned.class);
        memory.forget("j");
        assertThat(memory.claim("j")).isInstanceOf(ReplyMemory.Owned.class);
    }

    @Test
    void aDuplicateInFlightWaitsForTheFirstDeliverysReply() throws Exception {
        ReplyMemory memory = new LocalReplyMemory(1 << 20, Duration.ofMinutes(5));
        memory.claim("k");
        CompletableFuture<ReplyMemory.Claim> second = CompletableFuture.supplyAsync(() -> {
            try {
                return memory.claim("k");
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        });
        Thread.sleep(100);
        assertThat(second).isNotDone();
        memory.remember("k", OK);
        assertThat(second.get(5, TimeUnit.SECONDS)).isEqualTo(new ReplyMemory.Remembered(OK));
    }

    @Test
    void theLocalMemoryIsBoundedByTheBytesItHolds() throws Exception {
        LocalReplyMemory memory = new LocalReplyMemory(64 * 1024, Duration.ofMinutes(5));
        for (int i = 0; i < 1000; i++) {
            memory.claim("k" + i);
            memory.remember("k" + i, OK);
        }
        // every reply weighs at least its overhead (512 bytes): 64 KiB holds at most 128 of them
        assertThat(memory.size()).isLessThanOrEqualTo(128).isPositive();
        // a reply bigger than the whole bound is not kept, and evicts nothing a claim is waiting on
        BusReply huge = new BusReply(200, new byte[200 * 1024], java.util.Map.of(), null);
        assertThat(memory.claim("huge")).isEqualTo(new ReplyMemory.Owned());
        memory.remember("huge", huge);
        memory.size();
        assertThat(memory.remembered("huge")).isNull();
    }

    @Test
    void aClaimInFlightIsNeverEvictedByTheRepliesBound() throws Exception {
        LocalReplyMemory memory = new LocalReplyMemory(8 * 1024, Duration.ofMinutes(5));
        assertThat(memory.claim("answering")).isEqualTo(new ReplyMemory.Owned());
        for (int i = 0; i < 200; i++) {
            memory.claim("k" + i);
            memory.remember("k" + i, OK);
        }
        assertThat(memory.answering("answering")).isTrue();
        CompletableFuture<ReplyMemory.Claim> duplicate = CompletableFuture.supplyAsync(() -> {
            try {
                return memory.claim("answering");
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(100);
        assertThat(duplicate).isNotDone(); // it waits for the delivery in flight
        memory.remember("answering", OK);
        assertThat(duplicate.get(5, TimeUnit.SECONDS)).isEqualTo(new ReplyMemory.Remembered(OK));
    }

    @Test
    void redisSharesRepliesBetweenGateways() throws Exception {
        String prefix = prefix();
        int[] outages = {0};
        try (RedisReplyMemory a = new RedisReplyMemory(REDIS, prefix, Duration.ofMinutes(5), new LocalReplyMemory(1 << 20, Duration.ofMinutes(5)), () -> outages[0]++);
             RedisReplyMemory b = new RedisReplyMemory(REDIS, prefix, Duration.ofMinutes(5), new LocalReplyMemory(1 << 20, Duration.ofMinutes(5)), () -> outages[0]++)) {
            assertThat(a.claim("m")).isInstanceOf(ReplyMemory.Owned.class);
            CompletableFuture<ReplyMemory.Claim> onB = CompletableFuture.supplyAsync(() -> {
                try {
                    return b.claim("m");
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(500);
            assertThat(onB).as("b waits while a, alive, answers").isNotDone();
            a.remember("m", OK);
            ReplyMemory.Claim claim = onB.get(5, TimeUnit.SECONDS);
            assertThat(claim).isInstanceOf(ReplyMemory.Remembered.class);
            BusReply again = ((ReplyMemory.Remembered) claim).reply();
            assertThat(again.body()).isEqualTo(OK.body());
            assertThat(again.properties()).isEqualTo(OK.properties());
            // a transient failure gives the claim up: the next delivery answers
            assertThat(a.claim("n")).isInstanceOf(ReplyMemory.Owned.class);
            a.forget("n");
            Thread.sleep(200);
            assertThat(b.claim("n")).isInstanceOf(ReplyMemory.Owned.class);
            assertThat(outages[0]).as("no call to a reachable Redis counted as an outage").isZero();
        }
    }

    @Test
    void aClaimOfAGatewayThatIsGoneIsTakenOver() throws Exception {
        String prefix = prefix();
        RedisReplyMemory dead = new RedisReplyMemory(REDIS, prefix, Duration.ofMinutes(5), new LocalReplyMemory(1 << 20, Duration.ofMinutes(5)), () -> { });
        Thread.sleep(300); // its liveness key is written
        assertThat(dead.claim("m")).isInstanceOf(ReplyMemory.Owned.class);
        dead.close(); // as after a kill, once its liveness key lapses (close deletes it at once)
        try (RedisReplyMemory next = new RedisReplyMemory(REDIS, prefix, Duration.ofMinutes(5), new LocalReplyMemory(1 << 20, Duration.ofMinutes(5)), () -> { })) {
            long start = System.nanoTime();
            assertThat(next.claim("m")).isInstanceOf(ReplyMemory.Owned.class);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
        }
    }

    @Test
    void withRedisUnreachableTheGatewaysOwnMemoryAnswers() throws Exception {
        int[] outages = {0};
        try (RedisReplyMemory memory = new RedisReplyMemory("redis://127.0.0.1:1", prefix(), Duration.ofMinutes(5),
                new LocalReplyMemory(1 << 20, Duration.ofMinutes(5)), () -> outages[0]++)) {
            assertThat(memory.claim("m")).isInstanceOf(ReplyMemory.Owned.class);
            memory.remember("m", OK);
            assertThat(memory.claim("m")).isEqualTo(new ReplyMemory.Remembered(OK));
            assertThat(outages[0]).isPositive();
        }
    }

    @Test
    void aReplyThatNeverReachedRedisIsStillGivenAgainByItsOwnGateway() throws Exception {
        String prefix = prefix();
        io.lettuce.core.RedisClient client = io.lettuce.core.RedisClient.create(REDIS);
        try (RedisReplyMemory memory = new RedisReplyMemory(REDIS, prefix, Duration.ofMinutes(5),
                new LocalReplyMemory(1 << 20, Duration.ofMinutes(5)), () -> { });
             var connection = client.connect()) {
            assertThat(memory.claim("m")).isInstanceOf(ReplyMemory.Owned.class);
            String claim = connection.sync().get(prefix + "bus:m");
            assertThat(claim).startsWith("P|");
            memory.remember("m", OK);
            dev.caravan.TestGateway.eventually(() -> String.valueOf(connection.sync().get(prefix + "bus:m")).startsWith("D|"),
                    "the reply in Redis");
            connection.sync().set(prefix + "bus:m", claim); // as if the reply's write had been lost in a Redis blip
            long start = System.nanoTime();
            assertThat(memory.claim("m")).isEqualTo(new ReplyMemory.Remembered(OK)); // not a 10-minute wait
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
            dev.caravan.TestGateway.eventually(() -> String.valueOf(connection.sync().get(prefix + "bus:m")).startsWith("D|"),
                    "the reply written to Redis again");
        } finally {
            client.shutdown();
        }
    }
}
