package dev.caravan.responses;

import dev.caravan.PostgresSchema;
import dev.caravan.policy.ledger.LedgerSettings;

/**
 * The stored responses in PostgreSQL at 127.0.0.1:5432 (database {@code test}), in a schema of each test's own.
 * PostgreSQL being down fails these tests: they never skip.
 */
class PostgresSqlResponseStoreTest extends SqlResponseStoreContract {

    final PostgresSchema schema = PostgresSchema.create("responses_test");

    @Override
    LedgerSettings settings() {
        return LedgerSettings.fromEnvironment(name -> null, name -> name.equals("caravan.db.url") ? schema.url() : null);
    }

    @Override
    void dropDatabase() {
        schema.close();
    }
}
