package dev.caravan.policy.ledger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The ledger in PostgreSQL at 127.0.0.1:5432 (database {@code test}), in a schema of each test's own so that runs
 * never meet. PostgreSQL being down fails these tests: they never skip.
 */
class PostgresLedgerTest extends LedgerContract {

    static final int PORT = 5432;
    static final String SERVER = "jdbc:postgresql://127.0.0.1:" + PORT + "/test?user=postgres";

    final String schema = "ledger_test_" + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);

    @BeforeEach
    void createSchema() throws Exception {
        try (Connection c = DriverManager.getConnection(SERVER); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA " + schema);
        }
    }

    @AfterEach
    void dropSchema() throws Exception {
        try (Connection c = DriverManager.getConnection(SERVER); Statement s = c.createStatement()) {
            s.execute("DROP SCHEMA " + schema + " CASCADE");
        }
    }

    @Override
    LedgerSettings settings(int queueCapacity, int batchSize, Duration flushInterval) {
        return new LedgerSettings(true, Path.of("data"), SERVER + "&currentSchema=" + schema, null, null,
                queueCapacity, batchSize, flushInterval);
    }

    @Override
    String databaseName() {
        return "PostgreSQL";
    }

    @Test
    void rowsWaitOutAnOutageAndLandWhenTheDatabaseIsBack() throws Exception {
        try (TcpProxy proxy = new TcpProxy(PORT)) {
            LedgerSettings settings = new LedgerSettings(true, Path.of("data"), "jdbc:postgresql://127.0.0.1:"
                    + proxy.port() + "/test?user=postgres&currentSchema=" + schema, null, null, 1000, 100,
                    Duration.ofMillis(50));
            try (Ledger ledger = Ledger.open(settings, registry);
                 ThroughThePolicies gateway = new ThroughThePolicies(ledger.policy())) {
                proxy.down();
                for (int i = 0; i < 1250; i++) {
                    charge(gateway, "req_" + i, "k", "t", 1); // never throws, never waits
                }
                assertThat(dropped()).isEqualTo(250);
                assertThat(queued()).isEqualTo(1000);
                Thread.sleep(1000); // the writer tries, fails, backs off
                assertThat(count("SELECT COUNT(*) FROM spend_ledger")).isZero();
                assertThat(queued()).isEqualTo(1000);

                proxy.up();
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (queued() > 0 && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(queued()).as("rows waiting 30 s after the database came back").isZero();
                assertThat(count("SELECT COUNT(*) FROM spend_ledger")).isEqualTo(1000);
                assertThat(dropped()).isEqualTo(250);
            }
        }
    }

    @Test
    void theTablesGoBesideAnotherApplicationsInASchemaThatIsNotEmpty() throws Exception {
        try (Connection c = connect(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE invoices (id BIGINT PRIMARY KEY)");
        }
        try (LedgerDatabase database = LedgerDatabase.open(settings())) {
            assertThat(database.migrationsApplied()).isPositive();
        }
        assertThat(count("SELECT COUNT(*) FROM spend_ledger")).isZero();
        assertThat(count("SELECT COUNT(*) FROM invoices")).isZero();
    }

    @Test
    void anUnreachableDatabaseFailsTheStartWithoutShowingItsPassword() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        LedgerSettings settings = new LedgerSettings(true, Path.of("data"), "jdbc:postgresql://127.0.0.1:" + closed
                + "/test?user=postgres&password=hunter2", null, null, 10, 10, Duration.ofMillis(50));
        assertThatThrownBy(() -> Ledger.open(settings, registry))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("unavailable")
                .hasMessageNotContaining("hunter2");
    }
}
