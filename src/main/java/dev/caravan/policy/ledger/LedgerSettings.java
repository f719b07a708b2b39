package dev.caravan.policy.ledger;

import dev.caravan.config.ConfigLoader;

import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Function;

/**
 * Where the spend ledger lives and how it writes: an H2 file database under {@code dataDir} unless {@code dbUrl}
 * names a PostgreSQL one (scaled out, every replica writing to it). Read once at start.
 *
 * @param enabled       false: no database is opened and the ledger policy does nothing
 * @param dataDir       the H2 database's folder (the file is {@code <dataDir>/caravan.mv.db})
 * @param dbUrl         a {@code jdbc:postgresql:} (or {@code jdbc:h2:}) URL, or null for the H2 file
 * @param dbUser        the database user, or null (the URL may carry it)
 * @param dbPassword    the database password, or null; never printed
 * @param queueCapacity rows accepted and not yet written, at most; past it rows are dropped and counted
 * @param batchSize     rows per JDBC batch and transaction
 * @param flushInterval the longest a row waits for its batch to fill before it is written anyway
 */
public record LedgerSettings(boolean enabled, Path dataDir, String dbUrl, String dbUser, String dbPassword,
                             int queueCapacity, int batchSize, Duration flushInterval) {

    // ~200 bytes a row (its request id, the record, the queue's node): ~20 MB, 100 s of 1,000 requests/s
    public static final int DEFAULT_QUEUE_CAPACITY = 100_000;
    public static final int DEFAULT_BATCH_SIZE = 500;
    public static final Duration DEFAULT_FLUSH_INTERVAL = Duration.ofMillis(200);

    public LedgerSettings {
        if (dbUrl != null && dbUrl.isBlank()) {
            dbUrl = null;
        }
        if (dbUrl != null && !dbUrl.startsWith("jdbc:postgresql:") && !dbUrl.startsWith("jdbc:h2:")) {
            throw new IllegalArgumentException("CARAVAN_DB_URL must be a jdbc:postgresql: URL, not " + redact(dbUrl));
        }
        if (queueCapacity < 1 || batchSize < 1 || flushInterval.isNegative() || flushInterval.isZero()) {
            throw new IllegalArgumentException(
                    "the ledger's queue capacity, batch size and flush interval must be positive");
        }
    }

    /** The defaults: on, H2 under {@code data/}. */
    public static LedgerSettings defaults() {
        return fromEnvironment(name -> null, name -> null);
    }

    /**
     * From environment variables and {@code caravan.*} properties; a property wins over its variable.
     *
     * <pre>
     * CARAVAN_LEDGER_ENABLED         caravan.ledger.enabled        true
     * CARAVAN_DATA_DIR               caravan.dataDir               data
     * CARAVAN_DB_URL                 caravan.db.url                (none: H2 under the data folder)
     * CARAVAN_DB_USER                caravan.db.user
     * CARAVAN_DB_PASSWORD            caravan.db.password
     * CARAVAN_LEDGER_QUEUE_CAPACITY  caravan.ledger.queueCapacity  100000
     * CARAVAN_LEDGER_BATCH_SIZE      caravan.ledger.batchSize      500
     * CARAVAN_LEDGER_FLUSH_INTERVAL  caravan.ledger.flushInterval  200ms
     * </pre>
     */
    public static LedgerSettings fromEnvironment(Function<String, String> env, Function<String, String> properties) {
        Source in = new Source(env, properties);
        String enabled = in.read("CARAVAN_LEDGER_ENABLED", "caravan.ledger.enabled");
        String dataDir = in.read("CARAVAN_DATA_DIR", "caravan.dataDir");
        String flush = in.read("CARAVAN_LEDGER_FLUSH_INTERVAL", "caravan.ledger.flushInterval");
        return new LedgerSettings(
                enabled == null || !enabled.equalsIgnoreCase("false"),
                Path.of(dataDir == null || dataDir.isBlank() ? "data" : dataDir),
                in.read("CARAVAN_DB_URL", "caravan.db.url"),
                in.read("CARAVAN_DB_USER", "caravan.db.user"),
                in.read("CARAVAN_DB_PASSWORD", "caravan.db.password"),
                in.number("CARAVAN_LEDGER_QUEUE_CAPACITY", "caravan.ledger.queueCapacity", DEFAULT_QUEUE_CAPACITY),
                in.number("CARAVAN_LEDGER_BATCH_SIZE", "caravan.ledger.batchSize", DEFAULT_BATCH_SIZE),
                flush == null ? DEFAULT_FLUSH_INTERVAL : ConfigLoader.parseDuration(flush));
    }

    private record Source(Function<String, String> env, Function<String, String> properties) {

        String read(String variable, String property) {
            String value = properties.apply(property);
            value = value != null ? value : env.apply(variable);
            return value == null ? null : value.trim();
        }

        int number(String variable, String property, int otherwise) {
            String text = read(variable, property);
            if (text == null || text.isEmpty()) {
                return otherwise;
            }
            try {
                return Integer.parseInt(text);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(property + " is not a number: " + text);
            }
        }
    }

    /** True when the ledger is in PostgreSQL. */
    public boolean postgres() {
        return dbUrl != null && dbUrl.startsWith("jdbc:postgresql:");
    }

    /** The JDBC URL the pool opens: {@code dbUrl}, or the H2 file under {@code dataDir}. */
    public String jdbcUrl() {
        if (dbUrl != null) {
            return dbUrl;
        }
        // DB_CLOSE_ON_EXIT=FALSE: H2's own shutdown hook would close the database while ours still drains the queue
        return "jdbc:h2:file:" + dataDir.toAbsolutePath().resolve("caravan")
                + ";DB_CLOSE_ON_EXIT=FALSE;AUTO_SERVER=FALSE";
    }

    /** The URL for messages: a password in it is masked. */
    public String redactedUrl() {
        return redact(jdbcUrl());
    }

    @Override
    public String toString() {
        return "LedgerSettings[enabled=" + enabled + ", url=" + redactedUrl() + ", user=" + dbUser
                + ", password=" + (dbPassword == null ? "none" : "***") + ", queueCapacity=" + queueCapacity
                + ", batchSize=" + batchSize + ", flushInterval=" + flushInterval + "]";
    }

    private static String redact(String url) {
        return url.replaceAll("(?i)(password=)[^&;]*", "$1***");
    }
}
