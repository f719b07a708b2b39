package dev.caravan.audit;

import dev.caravan.config.AuditConfig;
import dev.caravan.policy.audit.SqlAuditLog;
import dev.caravan.policy.ledger.LedgerDatabase;
import dev.caravan.policy.ledger.LedgerSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** The audit log in the gateway's default database, an H2 file (a fresh folder per test). */
class H2AuditLogTest extends AuditLogContract {

    @TempDir
    Path dir;

    @Override
    LedgerSettings settings() {
        return new LedgerSettings(true, dir.resolve("data"), null, null, null, 1000, 100, Duration.ofMillis(50));
    }

    @Test
    void eventsPastTheQueuesBoundAreDroppedAndCountedWhileTheDatabaseIsGone() {
        LedgerDatabase gone = LedgerDatabase.open(new LedgerSettings(true, dir.resolve("gone"), null, null, null,
                10, 10, Duration.ofMillis(50)));
        SqlAuditLog log = new SqlAuditLog(gone.dataSource(), () -> AuditConfig.NONE, registry, 10);
        gone.close(); // the pool goes away underneath the writer
        for (int i = 0; i < 25; i++) {
            log.record(event(i, "gateway", "budget.refused", "key:k", null)); // never throws, never waits
        }
        // ten wait in the queue; the writer may hold up to ten more in the batch it retries
        assertThat(dropped()).isBetween(5.0, 15.0);
        log.close(Duration.ofMillis(300));
        assertThat(dropped()).as("the overflow, then what close could not write").isEqualTo(25);
    }

    double dropped() {
        return registry.get("caravan.audit.dropped").counter().count();
    }
}
