package dev.caravan.policy.ledger;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;

/**
 * The gateway's own database (the ledger, the audit log, the admin API's keys and teams, stored responses): an H2
 * file under the data folder, or PostgreSQL when {@code CARAVAN_DB_URL} is set, behind a small pool, migrated by
 * Flyway from {@code db/migration} (one set of scripts for both). Opened once at start; an unreachable database fails
 * the start, since the budgets could not be rebuilt from it.
 */
public final class LedgerDatabase implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LedgerDatabase.class);

    private final HikariDataSource pool;
    private final boolean postgres;
    private final int migrationsApplied;

    private LedgerDatabase(HikariDataSource pool, boolean postgres, int migrationsApplied) {
        this.pool = pool;
        this.postgres = postgres;
        this.migrationsApplied = migrationsApplied;
    }

    /** Opens the pool and brings the schema up to date; throws when the database cannot be reached or migrated. */
    public static LedgerDatabase open(LedgerSettings settings) {
        if (settings.dbUrl() == null) {
            try {
                Files.createDirectories(settings.dataDir());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create the data folder " + settings.dataDir(), e);
            }
        }
        HikariConfig config = new HikariConfig();
        config.setPoolName("caravan-ledger");
        config.setJdbcUrl(settings.jdbcUrl());
        config.setUsername(settings.dbUser() != null ? settings.dbUser() : settings.postgres() ? null : "sa");
        config.setPassword(settings.dbPassword());
        // one each for the ledger's writer, the audit writer, the audit sink, the key directory, the admin API's two
        // threads, the stored responses' writer and two readers, and one spare for start-up queries: none of them
        // holds more than one at once
        config.setMaximumPoolSize(10);
        config.setMinimumIdle(1);
        // a database that is down costs the writer 3 s per attempt, not Hikari's default 30 s
        config.setConnectionTimeout(3_000);
        config.setValidationTimeout(2_000);
        if (settings.postgres()) {
            // the driver sends a batch as multi-row INSERTs: ~19,000 rows/s instead of ~17,000 (10,000 rows, 500
            // a batch, local server, busy 2-core machine); a URL parameter of the same name wins over these
            config.addDataSourceProperty("reWriteBatchedInserts", "true");
            // a network that drops packets fails a write after 30 s instead of holding the writer forever
            config.addDataSourceProperty("socketTimeout", "30");
        }
        HikariDataSource pool;
        try {
            pool = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new IllegalStateException("the ledger database at " + settings.redactedUrl() + " is unavailable: "
                    + rootMessage(e), e);
        }
        try {
            // a history table of Caravan's own name, and a baseline below V1, so that a PostgreSQL schema that
            // already holds other tables (or another tool's Flyway history) takes Caravan's tables beside them
            int applied = Flyway.configure().dataSource(pool).locations("classpath:db/migration")
                    .table("caravan_schema_history").baselineOnMigrate(true).baselineVersion("0")
                    .load().migrate().migrationsExecuted;
            LOG.info("Spend ledger in {} ({} migration(s) applied)", settings.redactedUrl(), applied);
            return new LedgerDatabase(pool, settings.postgres(), applied);
        } catch (RuntimeException e) {
            pool.close();
            throw new IllegalStateException("the ledger database at " + settings.redactedUrl()
                    + " could not be migrated: " + rootMessage(e), e);
        }
    }

    public DataSource dataSource() {
        return pool;
    }

    /** PostgreSQL rather than H2: the few statements whose syntax differs (upserts) are chosen by it. */
    public boolean postgres() {
        return postgres;
    }

    /** How many migrations this open applied: all of them on a fresh database, none on a current one. */
    public int migrationsApplied() {
        return migrationsApplied;
    }

    /** Closes the pool; H2 closes its file with the last connection. */
    @Override
    public void close() {
        pool.close();
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() != null ? root.getMessage() : root.toString();
    }
}
