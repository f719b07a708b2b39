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

    static final String SERVER = dev.caravan.PostgresSchema.SERVER;

    dev.caravan.PostgresSchema postgres;
    String schema;

    @BeforeEach
    @Override
    void open() {
        postgres = dev.caravan.PostgresSchema.create("spend_test");
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
        return new LedgerSettings(true, Path.of("data"), SERVER + "&currentSchema=" + schema, null, null, 10, 10,
                Duration.ofMillis(50));
    }
}
