package dev.caravan.admin;

import dev.caravan.policy.ledger.LedgerSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The admin API's ledger queries on PostgreSQL at 127.0.0.1:5432 (database {@code test}), in a schema of each
 * test's own. PostgreSQL being down fails these tests: they never skip.
 */
class PostgresLedgerQueriesTest extends LedgerQueriesContract {

    static final String SERVER = "jdbc:postgresql://127.0.0.1:5432/test?user=postgres";

    final String schema = "spend_test_" + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);

    @BeforeEach
    @Override
    void open() {
        try (Connection c = DriverManager.getConnection(SERVER); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA " + schema);
        } catch (Exception e) {
            throw new AssertionError("PostgreSQL at 127.0.0.1:5432 is needed for this test: " + e.getMessage(), e);
        }
        super.open();
    }

    @AfterEach
    @Override
    void close() {
        super.close();
        try (Connection c = DriverManager.getConnection(SERVER); Statement s = c.createStatement()) {
            s.execute("DROP SCHEMA " + schema + " CASCADE");
        } catch (Exception e) {
            throw new AssertionError("could not drop " + schema + ": " + e.getMessage(), e);
        }
    }

    @Override
    LedgerSettings settings() {
        return new LedgerSettings(true, Path.of("data"), SERVER + "&currentSchema=" + schema, null, null, 10, 10,
                Duration.ofMillis(50));
    }
}
