package dev.caravan.audit;

import dev.caravan.config.AuditConfig;
import dev.caravan.policy.audit.AuditLog.AuditRow;
import dev.caravan.policy.audit.AuditLog.Verification;
import dev.caravan.policy.audit.SqlAuditLog;
import dev.caravan.policy.ledger.LedgerDatabase;
import dev.caravan.policy.ledger.LedgerSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The audit log in PostgreSQL at 127.0.0.1:5432 (database {@code test}), in a schema of each test's own. PostgreSQL
 * being down fails these tests: they never skip.
 */
class PostgresAuditLogTest extends AuditLogContract {

    static final String SERVER = dev.caravan.PostgresSchema.SERVER;

    dev.caravan.PostgresSchema postgres;
    String schema;

    @BeforeEach
    @Override
    void open() {
        postgres = dev.caravan.PostgresSchema.create("audit_test");
        schema = postgres.name();
        super.open();
    }

    @AfterEach
    @Override
    void close() {
        super.close();
        postgres.close();
    }

    @Override
    LedgerSettings settings() {
        return new LedgerSettings(true, Path.of("data"), SERVER + "&currentSchema=" + schema, null, null, 1000, 100,
                Duration.ofMillis(50));
    }

    @Test
    void twoReplicasSharingTheDatabaseKeepOneIntactChain() throws Exception {
        // a second pool of its own, as another gateway process would have, on the same schema
        try (LedgerDatabase other = LedgerDatabase.open(settings());
             SqlAuditLog replica = new SqlAuditLog(other.dataSource(), () -> AuditConfig.NONE, registry)) {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<?>> work = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                LedgerDatabase db = t == 0 ? database : other;
                SqlAuditLog log = t == 0 ? audit : replica;
                String actor = "replica-" + t;
                work.add(pool.submit(() -> {
                    go.await();
                    for (int i = 0; i < 150; i++) {
                        try (Connection tx = db.dataSource().getConnection()) {
                            tx.setAutoCommit(false);
                            log.append(tx, event(i, actor, "key.update", "key:" + i, null));
                            tx.commit();
                        }
                    }
                    return null;
                }));
                work.add(pool.submit(() -> {
                    go.await();
                    for (int i = 0; i < 150; i++) {
                        log.record(event(i, actor, "budget.refused", "key:" + i, null));
                    }
                    return null;
                }));
            }
            go.countDown();
            for (Future<?> f : work) {
                f.get();
            }
            pool.shutdown();
            assertThat(audit.awaitWritten(Duration.ofSeconds(30))).isTrue();
            assertThat(replica.awaitWritten(Duration.ofSeconds(30))).isTrue();
            assertThat(all()).hasSize(600).extracting(AuditRow::seq).doesNotHaveDuplicates();
            assertThat(replica.verify()).isEqualTo(new Verification(true, 600, null, null));
            assertThat(audit.verify()).isEqualTo(new Verification(true, 600, null, null));
        }
    }
}
