package dev.caravan.responses;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.dialect.openai.ResponseStore.Stored;
import dev.caravan.policy.ledger.LedgerDatabase;
import dev.caravan.policy.ledger.LedgerSettings;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What the stored responses do in the gateway's database: H2SqlResponseStoreTest and PostgresSqlResponseStoreTest run
 * every test here against a real database of their own. Two stores on one database are two replicas; each reaches
 * it through a gate of its own ({@link GatedDataSource}), so one replica's database can go away while the other's
 * stays.
 */
abstract class SqlResponseStoreContract {

    static final String SECRET = "the launch code is 0000";
    static final long T0 = 1_700_000_000_000L;

    static final org.assertj.core.api.Condition<Optional<Stored>> PRESENT =
            new org.assertj.core.api.Condition<>(Optional::isPresent, "found");
    static final org.assertj.core.api.Condition<Optional<Stored>> ABSENT =
            new org.assertj.core.api.Condition<>(Optional::isEmpty, "not found");

    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    final AtomicLong clock = new AtomicLong(T0);
    final List<SqlResponseStore> opened = new ArrayList<>();
    LedgerDatabase database;
    GatedDataSource gateA;
    GatedDataSource gateB;

    /** A database of this test's own, empty at first. */
    abstract LedgerSettings settings();

    /** Drops what {@link #settings()} made, after every store and the pool have closed. */
    abstract void dropDatabase();

    @BeforeEach
    void openDatabase() {
        database = LedgerDatabase.open(settings());
        gateA = new GatedDataSource(database.dataSource());
        gateB = new GatedDataSource(database.dataSource());
    }

    @AfterEach
    void closeDatabase() {
        try {
            gateA.set(GatedDataSource.Mode.OPEN);
            gateB.set(GatedDataSource.Mode.OPEN);
            opened.forEach(SqlResponseStore::close);
            database.close();
        } finally {
            dropDatabase();
        }
    }

    SqlResponseStore store(GatedDataSource gate, SqlResponseStore.Settings settings) {
        SqlResponseStore store = new SqlResponseStore(gate, database.postgres(), settings, registry, clock::get);
        opened.add(store);
        return store;
    }

    SqlResponseStore store(GatedDataSource gate) {
        return store(gate, SqlResponseStore.Settings.of(100, Duration.ofHours(1)));
    }

    static ObjectNode response(String id, String text) {
        ObjectNode r = Json.object().put("id", id).put("object", "response").put("status", "completed");
        r.putArray("output").addObject().put("type", "message").put("role", "assistant")
                .putArray("content").addObject().put("type", "output_text").put("text", text);
        return r.put("output_text", text);
    }

    static ArrayNode turns(String userText) {
        ArrayNode turns = Json.MAPPER.createArrayNode();
        turns.addObject().put("role", "user").put("content", userText);
        return turns;
    }

    static Optional<Stored> found(CompletableFuture<Optional<Stored>> stage) {
        return stage.orTimeout(10, TimeUnit.SECONDS).join();
    }

    static Optional<Stored> find(SqlResponseStore store, String id, String owner) {
        return found(store.find(id, owner).toCompletableFuture());
    }

    static boolean delete(SqlResponseStore store, String id, String owner) {
        return store.delete(id, owner).toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
    }

    static void within(Duration limit, BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited %s for: %s", limit, what).isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    long rows() throws Exception {
        try (Connection c = database.dataSource().getConnection(); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT COUNT(*) FROM stored_responses")) {
            r.next();
            return r.getLong(1);
        }
    }

    double dropped() {
        return registry.counter("caravan.responses.dropped").count();
    }

    static ListAppender<ILoggingEvent> capture() {
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        ((Logger) LoggerFactory.getLogger("dev.caravan.responses")).addAppender(appender);
        return appender;
    }

    /** What was logged so far; the writer's thread appends under the appender's lock (AppenderBase.doAppend). */
    static List<String> messages(ListAppender<ILoggingEvent> log) {
        synchronized (log) {
            return log.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
        }
    }

    @Test
    void aKeptResponseIsFoundAtOnceOnItsReplicaAndOnAnotherOnceWritten() throws Exception {
        SqlResponseStore a = store(gateA);
        SqlResponseStore b = store(gateB);
        a.keep("alice", response("resp_1", "Hello, Ada."), turns("My name is Ada."));

        CompletableFuture<Optional<Stored>> here = a.find("resp_1", "alice").toCompletableFuture();
        assertThat(here).as("answered without a database read").isDone();
        within(Duration.ofSeconds(2), () -> find(b, "resp_1", "alice").isPresent(), "the other replica sees it");

        Stored there = find(b, "resp_1", "alice").orElseThrow();
        assertThat(there.owner()).isEqualTo("alice");
        assertThat(there.response()).isEqualTo(response("resp_1", "Hello, Ada."));
        assertThat(there.conversation()).extracting(JsonNode::toString).containsExactly(
                "{\"role\":\"user\",\"content\":\"My name is Ada.\"}",
                "{\"role\":\"assistant\",\"content\":\"Hello, Ada.\"}");
        assertThat(a.pending()).isZero();
    }

    @Test
    void aResponseWaitingForItsRowIsFoundOnItsReplicaOnlyUntilTheRowCommits() throws Exception {
        SqlResponseStore a = store(gateA);
        SqlResponseStore b = store(gateB);
        gateA.set(GatedDataSource.Mode.FAILING); // replica A's database is away
        a.keep("alice", response("resp_2", "Hi"), turns("Hi"));
        Thread.sleep(300); // the writer tries, fails, backs off

        assertThat(a.pending()).isEqualTo(1);
        assertThat(find(a, "resp_2", "alice")).as("on its own replica: from the pending map").isPresent();
        assertThat(find(b, "resp_2", "alice")).as("not committed: another replica cannot see it").isEmpty();

        gateA.set(GatedDataSource.Mode.OPEN);
        within(Duration.ofSeconds(10), () -> find(b, "resp_2", "alice").isPresent(), "committed once the database is back");
        assertThat(a.pending()).isZero();
        assertThat(find(a, "resp_2", "alice")).as("now read from its row").isPresent();
        assertThat(dropped()).isZero();
    }

    @Test
    void anotherKeyIsToldItDoesNotExistWhetherPendingOrWritten() throws Exception {
        SqlResponseStore a = store(gateA);
        gateA.set(GatedDataSource.Mode.FAILING);
        a.keep("alice", response("resp_3", "Hi"), turns("Hi"));
        assertThat(find(a, "resp_3", "mallory")).isEmpty();
        assertThat(delete(a, "resp_3", "mallory")).isFalse();

        gateA.set(GatedDataSource.Mode.OPEN);
        within(Duration.ofSeconds(10), () -> a.pending() == 0, "written");
        assertThat(find(a, "resp_3", "mallory")).isEmpty();
        assertThat(delete(a, "resp_3", "mallory")).isFalse();
        assertThat(find(a, "resp_3", "alice")).as("the stranger's delete changed nothing").isPresent();
        assertThat(find(a, "resp_unknown", "alice")).isEmpty();
    }

    @Test
    void aDeleteByTheOwnerIsSeenByEveryReplica() throws Exception {
        SqlResponseStore a = store(gateA);
        SqlResponseStore b = store(gateB);
        a.keep("alice", response("resp_4", "Hi"), turns("Hi"));
        within(Duration.ofSeconds(2), () -> find(b, "resp_4", "alice").isPresent(), "written");

        assertThat(delete(b, "resp_4", "alice")).isTrue();
        assertThat(find(a, "resp_4", "alice")).isEmpty();
        assertThat(find(b, "resp_4", "alice")).isEmpty();
        assertThat(delete(a, "resp_4", "alice")).as("already gone").isFalse();
        assertThat(rows()).isZero();
    }

    @Test
    void aDeleteWhileTheRowIsBeingWrittenKeepsItFromLanding() throws Exception {
        SqlResponseStore a = store(gateA);
        SqlResponseStore b = store(gateB);
        gateA.set(GatedDataSource.Mode.BLOCKED);
        a.keep("alice", response("resp_5", "Hi"), turns("Hi"));
        within(Duration.ofSeconds(2), () -> gateA.waiting() == 1, "the writer inside its insert");

        CompletableFuture<Boolean> deleted = a.delete("resp_5", "alice").toCompletableFuture();
        assertThat(deleted).as("pending: deleted without a database call").isCompletedWithValue(true);
        assertThat(find(b, "resp_5", "alice")).isEmpty();

        gateA.set(GatedDataSource.Mode.OPEN); // the insert commits, then the writer deletes the row it wrote
        within(Duration.ofSeconds(10), () -> {
            try {
                return rows() == 0 && a.pending() == 0;
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }, "the deleted response's row gone");
        Thread.sleep(200);
        assertThat(rows()).isZero();
        assertThat(find(b, "resp_5", "alice")).isEmpty();
    }

    @Test
    void expiredResponsesAreNeverReturnedAndArePurgedInBoundedBatches() throws Exception {
        SqlResponseStore.Settings settings = new SqlResponseStore.Settings(100, Duration.ofHours(1), 2, 16, 100,
                Duration.ofMillis(50), 10);
        SqlResponseStore a = store(gateA, settings);
        for (int i = 0; i < 25; i++) {
            a.keep("alice", response("resp_old_" + i, "old"), turns("old"));
        }
        within(Duration.ofSeconds(5), () -> a.pending() == 0, "written");
        clock.addAndGet(Duration.ofMinutes(30).toMillis());
        a.keep("alice", response("resp_fresh", "fresh"), turns("fresh"));
        within(Duration.ofSeconds(5), () -> a.pending() == 0, "written");
        assertThat(rows()).isEqualTo(26);

        clock.addAndGet(Duration.ofMinutes(30).toMillis()); // the old ones' hour is up, the fresh one's is not
        assertThat(find(a, "resp_old_0", "alice")).isEmpty();
        assertThat(delete(a, "resp_old_1", "alice")).isFalse();
        assertThat(find(a, "resp_fresh", "alice")).isPresent();
        within(Duration.ofSeconds(5), () -> {
            try {
                return rows() == 1;
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }, "25 expired rows purged, 10 a statement");
        assertThat(find(a, "resp_fresh", "alice")).isPresent();

        gateA.set(GatedDataSource.Mode.FAILING);
        a.keep("alice", response("resp_late", "late"), turns("late"));
        assertThat(find(a, "resp_late", "alice")).isPresent();
        clock.addAndGet(Duration.ofHours(2).toMillis());
        assertThat(find(a, "resp_late", "alice")).as("expired while waiting to be written").isEmpty();
        assertThat(delete(a, "resp_late", "alice")).isFalse();
    }

    @Test
    void aFullReadQueueAnswers503AtOnceRatherThanWait() throws Exception {
        SqlResponseStore a = store(gateA, new SqlResponseStore.Settings(100, Duration.ofHours(1), 1, 1, 100,
                Duration.ofMinutes(1), 1000));
        a.keep("alice", response("resp_6", "Hi"), turns("Hi"));
        within(Duration.ofSeconds(2), () -> a.pending() == 0, "written");

        gateA.set(GatedDataSource.Mode.BLOCKED); // the database stops answering
        CompletableFuture<Optional<Stored>> reading = a.find("resp_6", "alice").toCompletableFuture();
        within(Duration.ofSeconds(2), () -> gateA.waiting() == 1, "the one read thread held");
        CompletableFuture<Optional<Stored>> queued = a.find("resp_6", "alice").toCompletableFuture();
        CompletableFuture<Boolean> refused = a.delete("resp_6", "alice").toCompletableFuture();

        assertThat(refused).isCompletedExceptionally();
        assertThatThrownBy(refused::join).cause().isInstanceOfSatisfying(GatewayException.class, e -> {
            assertThat(e.status()).isEqualTo(503);
            assertThat(e.code()).isEqualTo("responses_busy");
            assertThat(e.headers()).containsEntry("Retry-After", "1");
        });
        assertThat(reading).isNotDone();
        assertThat(queued).isNotDone();

        gateA.set(GatedDataSource.Mode.OPEN);
        assertThat(found(reading)).isPresent();
        assertThat(found(queued)).isPresent();
    }

    @Test
    void aDatabaseThatCannotBeReadAnswers503() throws Exception {
        SqlResponseStore a = store(gateA);
        a.keep("alice", response("resp_7", "Hi"), turns(SECRET));
        within(Duration.ofSeconds(2), () -> a.pending() == 0, "written");
        ListAppender<ILoggingEvent> log = capture();

        gateA.set(GatedDataSource.Mode.FAILING);
        assertThatThrownBy(() -> find(a, "resp_7", "alice")).isInstanceOf(CompletionException.class).cause()
                .isInstanceOfSatisfying(GatewayException.class, e -> {
                    assertThat(e.status()).isEqualTo(503);
                    assertThat(e.code()).isEqualTo("responses_unavailable");
                });
        assertThat(messages(log)).anyMatch(m -> m.contains("Stored responses cannot be read"));
    }

    @Test
    void pastTheBoundResponsesAreDroppedCountedAndLoggedWithoutTheirText() throws Exception {
        ListAppender<ILoggingEvent> log = capture();
        SqlResponseStore a = store(gateA, SqlResponseStore.Settings.of(3, Duration.ofHours(1)));
        SqlResponseStore b = store(gateB);
        gateA.set(GatedDataSource.Mode.FAILING);
        for (int i = 0; i < 5; i++) {
            a.keep("alice", response("resp_b" + i, SECRET), turns(SECRET)); // never blocks, never throws
        }
        assertThat(a.pending()).isEqualTo(3);
        assertThat(dropped()).isEqualTo(2);
        assertThat(find(b, "resp_b3", "alice")).as("dropped").isEmpty();
        assertThat(registry.get("caravan.responses.pending").gauge().value()).isEqualTo(3);
        within(Duration.ofSeconds(5), () -> messages(log).stream().anyMatch(m -> m.matches(
                "Stored responses dropped [12] response\\(s\\): 3 were waiting .*")), "a drop report, from the writer");

        gateA.set(GatedDataSource.Mode.OPEN);
        within(Duration.ofSeconds(10), () -> a.pending() == 0, "the three written once the database is back");
        for (int i = 0; i < 5; i++) {
            assertThat(find(b, "resp_b" + i, "alice")).as("resp_b" + i).is(i < 3 ? PRESENT : ABSENT);
        }
        synchronized (log) {
            assertThat(log.list).anyMatch(e -> e.getLevel() == Level.WARN);
        }
        assertThat(messages(log)).noneMatch(m -> m.contains("launch code"));
    }

    @Test
    void aResponseTheDatabaseRefusesCostsOnlyItself() throws Exception {
        ListAppender<ILoggingEvent> log = capture();
        SqlResponseStore a = store(gateA);
        gateA.set(GatedDataSource.Mode.FAILING); // so the refused one waits in a batch with another
        a.keep("alice", response("resp_r1", SECRET), turns(SECRET));
        a.keep("x".repeat(2_000), response("resp_r2", SECRET), turns(SECRET)); // an owner longer than its column
        a.keep("alice", response("resp_r3", SECRET), turns(SECRET));
        gateA.set(GatedDataSource.Mode.OPEN);

        within(Duration.ofSeconds(10), () -> a.pending() == 0, "the batch settled");
        assertThat(dropped()).isEqualTo(1);
        assertThat(rows()).isEqualTo(2);
        assertThat(find(a, "resp_r1", "alice")).isPresent();
        assertThat(find(a, "resp_r3", "alice")).isPresent();
        // the outage's WARN may have used the writer's one failure line per 10 s; the drop report has its own
        assertThat(messages(log)).anyMatch(m -> m.contains("dropped 1 response(s)"));
        assertThat(messages(log)).noneMatch(m -> m.contains("launch code"));
    }

    @Test
    void whatIsPendingAtCloseIsWrittenBeforeItCloses() throws Exception {
        SqlResponseStore a = store(gateA);
        for (int i = 0; i < 50; i++) {
            a.keep("alice", response("resp_c" + i, "Hi"), turns("Hi"));
        }
        a.close(); // a restart: the next process finds them
        SqlResponseStore next = store(gateB);
        for (int i = 0; i < 50; i++) {
            assertThat(find(next, "resp_c" + i, "alice")).isPresent();
        }
        a.keep("alice", response("resp_after", "Hi"), turns("Hi"));
        assertThat(dropped()).as("kept after close: dropped, counted").isEqualTo(1);
    }
}
