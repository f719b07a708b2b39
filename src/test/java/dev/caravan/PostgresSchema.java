package dev.caravan;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A schema of one test's own in the PostgreSQL at 127.0.0.1:5432 (database {@code test}), so that runs never meet.
 * PostgreSQL being down fails the test that asks for one: it never skips.
 */
public record PostgresSchema(String name) implements AutoCloseable {

    public static final String SERVER = "jdbc:postgresql://127.0.0.1:5432/test?user=postgres";

    /** Creates {@code <prefix>_<random hex>}. */
    public static PostgresSchema create(String prefix) {
        PostgresSchema schema = new PostgresSchema(prefix + "_"
                + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE));
        schema.execute("CREATE SCHEMA " + schema.name);
        return schema;
    }

    /** The JDBC URL that opens this schema. */
    public String url() {
        return SERVER + "&currentSchema=" + name;
    }

    @Override
    public void close() {
        execute("DROP SCHEMA " + name + " CASCADE");
    }

    private void execute(String sql) {
        try (Connection c = DriverManager.getConnection(SERVER); Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (Exception e) {
            throw new AssertionError("PostgreSQL at 127.0.0.1:5432 (database test) is needed for this test: "
                    + e.getMessage(), e);
        }
    }
}
