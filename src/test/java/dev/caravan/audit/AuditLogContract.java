package dev.caravan.audit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.AuditConfig;
import dev.caravan.core.Json;
import dev.caravan.policy.audit.AuditEvent;
import dev.caravan.policy.audit.AuditLog.AuditQuery;
import dev.caravan.policy.audit.AuditLog.AuditRow;
import dev.caravan.policy.audit.AuditLog.Verification;
import dev.caravan.policy.audit.SqlAuditLog;
import dev.caravan.policy.ledger.LedgerDatabase;
import dev.caravan.policy.ledger.LedgerSettings;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the audit log does, on either database: H2AuditLogTest and PostgresAuditLogTest run every test here against
 * a real database of their own (a fresh H2 file, a fresh PostgreSQL schema). Tampering is done as an intruder would:
 * plain SQL on the table.
 */
abstract class AuditLogContract {

    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    LedgerDatabase database;
    SqlAuditLog audit;

    /** A database of this test's own, empty at first; the same one on every call within a test. */
    abstract LedgerSettings settings();

    @BeforeEach
    void open() {
        database = LedgerDatabase.open(settings());
        audit = new SqlAuditLog(database.dataSource(), () -> AuditConfig.NONE, registry);
    }

    @AfterEach
    void close() {
        audit.close();
        database.close();
    }

    static AuditEvent event(long ts, String actor, String action, String target, String team) {
        return new AuditEvent(ts, actor, "admin", action, target, team, "success", null,
                Json.object().put("name", target), "req_" + ts, "10.0.0.1");
    }

    /** {@code n} rows, each appended in its own committed transaction, as admin calls do. */
    void appendCommitted(int n) throws SQLException {
        for (int i = 1; i <= n; i++) {
            try (Connection tx = database.dataSource().getConnection()) {
                tx.setAutoCommit(false);
                audit.append(tx, event(1_000L * i, "admin-" + (i % 2), "key.update", "key:k" + i, "team-" + (i % 3)));
                tx.commit();
            }
        }
    }

    void sql(String statement) throws SQLException {
        try (Connection c = database.dataSource().getConnection(); Statement s = c.createStatement()) {
            s.execute(statement);
        }
    }

    long count(String query) throws SQLException {
        try (Connection c = database.dataSource().getConnection(); Statement s = c.createStatement();
             ResultSet r = s.executeQuery(query)) {
            r.next();
            return r.getLong(1);
        }
    }

    List<AuditRow> all() {
        List<AuditRow> rows = new ArrayList<>();
        Long after = null;
        while (true) {
            List<AuditRow> page = audit.find(new AuditQuery(null, null, null, null, null, 1000, after));
            rows.addAll(page);
            if (page.size() < 1000) {
                return rows;
            }
            after = page.get(page.size() - 1).seq();
        }
    }

    @Test
    void anAppendedRowCommitsWithItsTransactionAndIsFoundWithEveryField() throws Exception {
        ObjectNode before = Json.object().put("team", "search");
        ObjectNode after = Json.object().put("team", "ads");
        try (Connection tx = database.dataSource().getConnection()) {
            tx.setAutoCommit(false);
            audit.append(tx, new AuditEvent(1_700_000_000_123L, "alice", "admin", "key.update", "key:k1", "ads",
                    "success", before, after, "req_1", "192.0.2.7"));
            tx.commit();
        }
        List<AuditRow> rows = all();
        assertThat(rows).hasSize(1);
        AuditRow row = rows.get(0);
        assertThat(row.seq()).isEqualTo(1);
        assertThat(row.prevHash()).isEqualTo("0".repeat(64));
        assertThat(row.hash()).hasSize(64).matches("[0-9a-f]{64}");
        assertThat(row.event()).isEqualTo(new AuditEvent(1_700_000_000_123L, "alice", "admin", "key.update", "key:k1",
                "ads", "success", before, after, "req_1", "192.0.2.7"));
        assertThat(audit.verify()).isEqualTo(new Verification(true, 1, null, null));
    }

    @Test
    void rowsAreFoundByTimeActorActionAndTeamOldestFirstAndPaged() throws Exception {
        appendCommitted(12);
        assertThat(audit.find(new AuditQuery(3_000L, 6_000L, null, null, null, 100, null)))
                .extracting(AuditRow::seq).containsExactly(3L, 4L, 5L);
        assertThat(audit.find(new AuditQuery(null, null, "admin-1", null, null, 100, null)))
                .extracting(AuditRow::seq).containsExactly(1L, 3L, 5L, 7L, 9L, 11L);
        assertThat(audit.find(new AuditQuery(null, null, null, "key.update", "team-0", 100, null)))
                .extracting(AuditRow::seq).containsExactly(3L, 6L, 9L, 12L);
        assertThat(audit.find(new AuditQuery(null, null, null, "key.revoke", null, 100, null))).isEmpty();
        List<AuditRow> first = audit.find(new AuditQuery(null, null, null, null, null, 5, null));
        List<AuditRow> second = audit.find(new AuditQuery(null, null, null, null, null, 5, first.get(4).seq()));
        assertThat(first).extracting(AuditRow::seq).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(second).extracting(AuditRow::seq).containsExactly(6L, 7L, 8L, 9L, 10L);
    }

    @Test
    void recordedEventsAreWrittenInTheOrderTheyCameAndChained() throws Exception {
        for (int i = 1; i <= 250; i++) {
            audit.record(event(i, "gateway", "budget.refused", "key:k" + i, null));
        }
        assertThat(audit.awaitWritten(Duration.ofSeconds(20))).isTrue();
        List<AuditRow> rows = all();
        assertThat(rows).hasSize(250);
        for (int i = 0; i < rows.size(); i++) {
            assertThat(rows.get(i).seq()).isEqualTo(i + 1);
            assertThat(rows.get(i).event().target()).isEqualTo("key:k" + (i + 1));
            if (i > 0) {
                assertThat(rows.get(i).prevHash()).isEqualTo(rows.get(i - 1).hash());
            }
        }
        assertThat(audit.verify()).isEqualTo(new Verification(true, 250, null, null));
    }

    @Test
    void anActorChangedInSqlIsNamedAsEdited() throws Exception {
        appendCommitted(5);
        sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3");
        assertThat(audit.verify()).isEqualTo(new Verification(false, 2, 3L, "edited"));
    }

    @Test
    void anEditedAfterIsNamedAsEdited() throws Exception {
        appendCommitted(5);
        sql("UPDATE audit_log SET after_json = '{\"name\":\"key:other\"}' WHERE seq = 5");
        assertThat(audit.verify()).isEqualTo(new Verification(false, 4, 5L, "edited"));
    }

    @Test
    void aDeletedMiddleRowIsNamedAtTheRowAfterIt() throws Exception {
        appendCommitted(5);
        sql("DELETE FROM audit_log WHERE seq = 3");
        assertThat(audit.verify()).isEqualTo(new Verification(false, 2, 4L, "deleted"));
    }

    @Test
    void aDeletedRowWhoseSuccessorsWereRenumberedIsStillSeen() throws Exception {
        appendCommitted(5);
        sql("DELETE FROM audit_log WHERE seq = 3");
        sql("UPDATE audit_log SET seq = seq - 1 WHERE seq = 4");
        sql("UPDATE audit_log SET seq = seq - 1 WHERE seq = 5");
        sql("UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_log WHERE seq = 4)");
        assertThat(audit.verify()).isEqualTo(new Verification(false, 2, 3L, "deleted"));
    }

    @Test
    void aLinkChangedInSqlIsNamedAsEdited() throws Exception {
        appendCommitted(4);
        sql("UPDATE audit_log SET prev_hash = '" + "f".repeat(64) + "' WHERE seq = 2");
        assertThat(audit.verify()).isEqualTo(new Verification(false, 1, 2L, "edited"));
    }

    @Test
    void twoRowsSwappedAreNamedAtTheFirstOfThem() throws Exception {
        appendCommitted(5);
        sql("UPDATE audit_log SET seq = -1 WHERE seq = 2");
        sql("UPDATE audit_log SET seq = 2 WHERE seq = 3");
        sql("UPDATE audit_log SET seq = 3 WHERE seq = -1");
        assertThat(audit.verify()).isEqualTo(new Verification(false, 1, 2L, "reordered"));
    }

    @Test
    void deletingTheNewestRowsIsCaughtByTheHead() throws Exception {
        appendCommitted(5);
        sql("DELETE FROM audit_log WHERE seq >= 4");
        assertThat(audit.verify()).isEqualTo(new Verification(false, 3, 4L, "head"));
    }

    @Test
    void rowsPastTheHeadAreSeen() throws Exception {
        appendCommitted(4);
        sql("UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_log WHERE seq = 3)");
        assertThat(audit.verify()).isEqualTo(new Verification(false, 4, 4L, "head"));
    }

    @Test
    void aRewrittenLastRowIsCaughtByTheHead() throws Exception {
        appendCommitted(3);
        sql("UPDATE audit_head SET hash = '" + "a".repeat(64) + "'");
        assertThat(audit.verify()).isEqualTo(new Verification(false, 3, 3L, "head"));
    }

    @Test
    void aRolledBackTransactionLeavesNoRowAndNoGap() throws Exception {
        appendCommitted(2);
        try (Connection tx = database.dataSource().getConnection()) {
            tx.setAutoCommit(false);
            audit.append(tx, event(9_000, "alice", "team.delete", "team:gone", "gone"));
            tx.rollback(); // the admin change failed: its row goes with it
        }
        assertThat(count("SELECT COUNT(*) FROM audit_log")).isEqualTo(2);
        appendCommitted(1);
        assertThat(all()).extracting(AuditRow::seq).containsExactly(1L, 2L, 3L);
        assertThat(audit.verify()).isEqualTo(new Verification(true, 3, null, null));
    }

    @Test
    void concurrentAppendsFromTwoThreadsKeepOneIntactChain() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(3);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> work = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            String actor = "thread-" + t;
            work.add(pool.submit(() -> {
                go.await();
                for (int i = 0; i < 100; i++) {
                    try (Connection tx = database.dataSource().getConnection()) {
                        tx.setAutoCommit(false);
                        audit.append(tx, event(i, actor, "key.update", "key:" + i, null));
                        tx.commit();
                    }
                }
                return null;
            }));
        }
        work.add(pool.submit(() -> { // and the background writer at the same time
            go.await();
            for (int i = 0; i < 100; i++) {
                audit.record(event(i, "gateway", "budget.refused", "key:" + i, null));
            }
            return null;
        }));
        go.countDown();
        for (Future<?> f : work) {
            f.get();
        }
        pool.shutdown();
        assertThat(audit.awaitWritten(Duration.ofSeconds(30))).isTrue();
        assertThat(all()).hasSize(300).extracting(AuditRow::seq).doesNotHaveDuplicates();
        assertThat(audit.verify()).isEqualTo(new Verification(true, 300, null, null));
    }

    @Test
    void secretsAreRemovedFromBeforeAndAfterAtAnyDepth() throws Exception {
        ObjectNode after = (ObjectNode) Json.parseObjectOrNull("""
                {"id":"k1","key":"sk-live-123","sha256":"ab12","metadata":{"owner":"ops","apiKey":"x",
                 "nested":[{"password":"hunter2","api_key":"y","keep":1}]},"Secret":"s"}""");
        try (Connection tx = database.dataSource().getConnection()) {
            tx.setAutoCommit(false);
            audit.append(tx, new AuditEvent(1, "alice", "admin", "key.create", "key:k1", null, "success", null,
                    after, null, null));
            tx.commit();
        }
        JsonNode stored = all().get(0).event().after();
        assertThat(Json.string(stored)).isEqualTo("{\"id\":\"k1\",\"metadata\":{\"owner\":\"ops\",\"nested\":[{\"keep\":1}]}}");
        assertThat(after.has("key")).as("the caller's event is untouched").isTrue();
        try (Connection c = database.dataSource().getConnection(); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT after_json FROM audit_log")) {
            r.next();
            assertThat(r.getString(1)).doesNotContain("sk-live-123", "hunter2", "ab12");
        }
        assertThat(audit.verify().ok()).isTrue();
    }

    @Test
    void anAfterTooLongForItsColumnIsCutAndMarkedAndStillVerifies() throws Exception {
        ObjectNode huge = Json.object().put("blob", "é😀".repeat(20_000));
        try (Connection tx = database.dataSource().getConnection()) {
            tx.setAutoCommit(false);
            audit.append(tx, new AuditEvent(1, "alice", "admin", "team.update", "team:t", "t", "success", null,
                    huge, null, null));
            tx.commit();
        }
        JsonNode stored = all().get(0).event().after();
        assertThat(stored.path("_truncated").asBoolean()).isTrue();
        assertThat(stored.path("length").asInt()).isGreaterThan(16_384);
        assertThat(stored.path("head").asText()).startsWith("{\"blob\":\"é😀");
        assertThat(audit.verify().ok()).isTrue();
    }

    @Test
    void textADatabaseWouldRefuseOrChangeIsStoredSoItStillVerifies() throws Exception {
        String awkward = "nul\u0000here lone\uD800surrogate " + "x".repeat(254) + "😀tail"; // the emoji straddles 256
        try (Connection tx = database.dataSource().getConnection()) {
            tx.setAutoCommit(false);
            audit.append(tx, new AuditEvent(1, awkward, "admin", "key.update", awkward, null, "success",
                    null, Json.object().put("note", awkward), null, null));
            tx.commit();
        }
        AuditEvent stored = all().get(0).event();
        assertThat(stored.actor()).doesNotContain("\u0000").contains("lone\uFFFDsurrogate").hasSizeLessThanOrEqualTo(256);
        assertThat(audit.verify()).isEqualTo(new Verification(true, 1, null, null));
    }

    @Test
    void verifyWalksTheChainInPagesAndNamesABadRowDeepInIt() throws Exception {
        try (Connection tx = database.dataSource().getConnection()) {
            tx.setAutoCommit(false);
            for (int i = 1; i <= 2_500; i++) {
                audit.append(tx, event(i, "bulk", "key.update", "key:" + i, null));
            }
            tx.commit();
        }
        assertThat(audit.verify()).isEqualTo(new Verification(true, 2_500, null, null));
        sql("UPDATE audit_log SET ts_millis = 42 WHERE seq = 2101");
        assertThat(audit.verify()).isEqualTo(new Verification(false, 2_100, 2_101L, "edited"));
    }

    @Test
    void anEmptyLogIsIntact() {
        assertThat(audit.verify()).isEqualTo(new Verification(true, 0, null, null));
    }
}
