package dev.caravan.policy.ledger;

import dev.caravan.auth.Principal;
import dev.caravan.config.BudgetPeriod;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ModelConfig;
import dev.caravan.config.RoutingSettings;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.policy.ledger.LedgerEntry.SpendRow;
import dev.caravan.usage.Usage;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the ledger does, on either database: H2LedgerTest and PostgresLedgerTest run every test here against a
 * real database of their own (a fresh H2 file, a fresh PostgreSQL schema), plus their own outage test.
 */
abstract class LedgerContract {

    static final ModelConfig MODEL = new ModelConfig("gpt-4o-mini", List.of(), ModelConfig.DEFAULT_TIMEOUT,
            ModelConfig.DEFAULT_STREAM_IDLE_TIMEOUT, RoutingSettings.DEFAULT, List.of(), List.of());
    static final DeploymentConfig DEPLOYMENT = new DeploymentConfig("openai-gpt-4o-mini", null, "gpt-4o-mini", 1, 0,
            null, null, "eu");
    static final BudgetPeriod HOUR = BudgetPeriod.parse("1h");
    static final BudgetPeriod DAY = BudgetPeriod.parse("1d");

    final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    /** A database of this test's own, empty at first; the same one on every call within a test. */
    abstract LedgerSettings settings(int queueCapacity, int batchSize, Duration flushInterval);

    /** The database's name in the throughput line. */
    abstract String databaseName();

    LedgerSettings settings() {
        return settings(LedgerSettings.DEFAULT_QUEUE_CAPACITY, LedgerSettings.DEFAULT_BATCH_SIZE,
                LedgerSettings.DEFAULT_FLUSH_INTERVAL);
    }

    @Test
    void theEndOfARequestIsOneRowWithEveryField() throws Exception {
        long before = System.currentTimeMillis();
        try (Ledger ledger = Ledger.open(settings(), registry);
             ThroughThePolicies gateway = new ThroughThePolicies(ledger.policy())) {
            gateway.request(asked -> {
                asked.setProperty(ExchangeKeys.REQUEST_ID, "req_streamed");
                asked.setProperty(ExchangeKeys.START_NANOS, System.nanoTime() - 1_500_000_000L);
                asked.setProperty(ExchangeKeys.PRINCIPAL, new Principal("search-prod", "search", "user", null));
                asked.setProperty(ExchangeKeys.MODEL, MODEL);
                asked.setProperty(ExchangeKeys.OPERATION, "chat");
                asked.setProperty(ExchangeKeys.STREAMING, true);
            }, ended -> {
                ended.setProperty(ExchangeKeys.OUTCOME, "completed");
                ended.setProperty(ExchangeKeys.STATUS, 200);
                ended.setProperty(ExchangeKeys.USAGE, new Usage(1200, 340, 1540, 200, 0, true));
                ended.setProperty(ExchangeKeys.DEPLOYMENT, DEPLOYMENT);
                ended.setProperty(ExchangeKeys.COST_NANOS, 4_560_000L);
            });
            gateway.request(asked -> { // refused before any call: no key known, nothing used
                asked.setProperty(ExchangeKeys.REQUEST_ID, "req_refused");
                asked.setProperty(ExchangeKeys.MODEL, MODEL);
                asked.setProperty(ExchangeKeys.OPERATION, "embeddings");
            }, ended -> {
                ended.setProperty(ExchangeKeys.STATUS, 429);
                ended.setProperty(ExchangeKeys.ERROR_CODE, "budget_exceeded");
            });
        }
        long after = System.currentTimeMillis();

        Map<String, Object> streamed = row("req_streamed");
        assertThat((Long) streamed.get("ts_millis")).isBetween(before, after);
        assertThat(streamed).containsAllEntriesOf(Map.ofEntries(
                Map.entry("key_id", "search-prod"), Map.entry("team", "search"), Map.entry("model", "gpt-4o-mini"),
                Map.entry("deployment", "openai-gpt-4o-mini"), Map.entry("operation", "chat"),
                Map.entry("status", 200), Map.entry("outcome", "completed"), Map.entry("prompt_tokens", 1200L),
                Map.entry("completion_tokens", 340L), Map.entry("cached_tokens", 200L),
                Map.entry("cost_nanos", 4_560_000L), Map.entry("usage_estimated", true), Map.entry("stream", true),
                Map.entry("region", "eu")));
        assertThat(streamed.get("error_code")).isNull();
        assertThat((Long) streamed.get("latency_ms")).isBetween(1500L, 10_000L);

        Map<String, Object> refused = row("req_refused");
        assertThat((Long) refused.get("ts_millis")).isBetween(before, after);
        assertThat(refused).containsAllEntriesOf(Map.ofEntries(
                Map.entry("model", "gpt-4o-mini"), Map.entry("operation", "embeddings"), Map.entry("status", 429),
                Map.entry("outcome", "failed"), Map.entry("error_code", "budget_exceeded"),
                Map.entry("prompt_tokens", 0L), Map.entry("completion_tokens", 0L), Map.entry("cached_tokens", 0L),
                Map.entry("cost_nanos", 0L), Map.entry("latency_ms", 0L), Map.entry("usage_estimated", false),
                Map.entry("stream", false)));
        assertThat(refused.get("key_id")).isNull();
        assertThat(refused.get("team")).isNull();
        assertThat(refused.get("deployment")).isNull();
        assertThat(refused.get("region")).isNull();
        assertThat(count("SELECT COUNT(*) FROM spend_ledger")).isEqualTo(2);
    }

    @Test
    void tenThousandRowsFromEightThreadsLandExactlyOnce() throws Exception {
        LedgerSettings settings = settings();
        try (LedgerDatabase database = LedgerDatabase.open(settings)) {
            LedgerWriter writer = new LedgerWriter(database.dataSource(), new LedgerSql(database.postgres()),
                    settings, registry);
            long start = System.nanoTime();
            AtomicInteger refused = new AtomicInteger();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int thread = t;
                threads.add(new Thread(() -> {
                    for (int i = 0; i < 1250; i++) {
                        if (!writer.offer(spend("req_" + thread + "_" + i, "key-" + thread, "team", 1 + i))) {
                            refused.incrementAndGet();
                        }
                    }
                }));
            }
            threads.forEach(Thread::start);
            for (Thread t : threads) {
                t.join();
            }
            assertThat(refused).hasValue(0);
            awaitWritten(writer, Duration.ofSeconds(60));
            long millis = Math.max(1, (System.nanoTime() - start) / 1_000_000);
            System.out.printf("%s: 10,000 rows written in %d ms (%d rows/s)%n", databaseName(), millis,
                    10_000 * 1000L / millis);
            writer.close(Duration.ofSeconds(10));
        }
        assertThat(count("SELECT COUNT(*) FROM spend_ledger")).isEqualTo(10_000);
        assertThat(count("SELECT COUNT(DISTINCT request_id) FROM spend_ledger")).isEqualTo(10_000);
        assertThat(count("SELECT SUM(cost_nanos) FROM spend_ledger")).isEqualTo(8 * (1250L * 1251 / 2));
        assertThat(dropped()).isZero();
    }

    @Test
    void closeWritesEverythingQueuedBeforeItReturns() throws Exception {
        try (Ledger ledger = Ledger.open(settings(), registry);
             ThroughThePolicies gateway = new ThroughThePolicies(ledger.policy())) {
            for (int i = 0; i < 5000; i++) {
                String id = "req_" + i;
                gateway.request(asked -> {
                    asked.setProperty(ExchangeKeys.REQUEST_ID, id);
                    asked.setProperty(ExchangeKeys.PRINCIPAL, new Principal("k", "t", "user", null));
                }, ended -> ended.setProperty(ExchangeKeys.COST_NANOS, 3L));
            }
            ledger.close(); // as on SIGTERM, at once: most rows are still queued
        }
        assertThat(count("SELECT COUNT(*) FROM spend_ledger")).isEqualTo(5000);
        assertThat(count("SELECT SUM(cost_nanos) FROM spend_ledger")).isEqualTo(15_000);
        assertThat(dropped()).isZero();
    }

    @Test
    void aRowTheDatabaseRefusesIsDroppedAloneAndTheRestOfItsBatchLands() throws Exception {
        LedgerSettings settings = settings();
        try (LedgerDatabase database = LedgerDatabase.open(settings)) {
            try (Connection c = connect(); Statement s = c.createStatement()) {
                s.execute("ALTER TABLE spend_ledger ADD CONSTRAINT refuse_poison CHECK (key_id <> 'poison')");
            }
            LedgerWriter writer = new LedgerWriter(database.dataSource(), new LedgerSql(database.postgres()),
                    settings, registry);
            for (int i = 0; i < 100; i++) {
                writer.offer(spend("req_" + i, i == 42 ? "poison" : "k", "t", 1));
            }
            assertThat(writer.close(Duration.ofSeconds(10))).as("drained").isTrue();
        }
        assertThat(count("SELECT COUNT(*) FROM spend_ledger")).isEqualTo(99);
        assertThat(count("SELECT COUNT(*) FROM spend_ledger WHERE request_id = 'req_42'")).isZero();
        assertThat(dropped()).isEqualTo(1);
    }

    @Test
    void theOpenWindowsSpendIsRebuiltAfterReopening() throws Exception {
        long start;
        try (Ledger ledger = Ledger.open(settings(), registry);
             ThroughThePolicies gateway = new ThroughThePolicies(ledger.policy())) {
            charge(gateway, "req_before", "search-prod", "search", 1_000_000); // the window before this one
            Thread.sleep(5);
            start = System.currentTimeMillis();
            ledger.windowOpened("key", "search-prod", HOUR, start);
            ledger.windowOpened("team", "search", DAY, start);
            Thread.sleep(5);
            charge(gateway, "req_1", "search-prod", "search", 100);
            charge(gateway, "req_2", "search-prod", "search", 250);
            charge(gateway, "req_3", "search-batch", "search", 7); // the team's, not the key's
        }

        try (Ledger reopened = Ledger.open(settings(), registry)) {
            long now = System.currentTimeMillis();
            assertThat(reopened.currentWindow("key", "search-prod", HOUR, now)).contains(new Ledger.Window(start, 350));
            assertThat(reopened.currentWindow("team", "search", DAY, now)).contains(new Ledger.Window(start, 357));
            assertThat(reopened.currentWindow("key", "search-prod", DAY, now)).isEmpty(); // no window of that period
            assertThat(reopened.currentWindow("key", "search-batch", HOUR, now)).isEmpty();
        }
    }

    @Test
    void aLaterWindowReplacesAnEarlierOneAndAClosedWindowGivesNothing() {
        long now = System.currentTimeMillis();
        long monthStart = BudgetPeriod.MONTH.windowStart(now);
        try (Ledger ledger = Ledger.open(settings(), registry)) {
            ledger.windowOpened("key", "k", HOUR, now - Duration.ofHours(3).toMillis());
            ledger.windowOpened("key", "k", HOUR, now - Duration.ofMinutes(10).toMillis());
            ledger.windowOpened("key", "k", HOUR, now - Duration.ofHours(2).toMillis()); // late, and older: ignored
            ledger.windowOpened("team", "t", HOUR, now - Duration.ofHours(2).toMillis());
            ledger.windowOpened("team", "t", BudgetPeriod.MONTH, monthStart);
        }
        try (Ledger reopened = Ledger.open(settings(), registry)) {
            assertThat(reopened.currentWindow("key", "k", HOUR, now))
                    .contains(new Ledger.Window(now - Duration.ofMinutes(10).toMillis(), 0));
            assertThat(reopened.currentWindow("team", "t", HOUR, now)).isEmpty(); // closed an hour ago
            assertThat(reopened.currentWindow("team", "t", BudgetPeriod.MONTH, now))
                    .contains(new Ledger.Window(monthStart, 0));
        }
    }

    @Test
    void migrationsApplyOnAFreshDatabaseAndReopeningAppliesNone() throws Exception {
        try (LedgerDatabase fresh = LedgerDatabase.open(settings())) {
            assertThat(fresh.migrationsApplied()).isPositive();
        }
        try (LedgerDatabase again = LedgerDatabase.open(settings())) {
            assertThat(again.migrationsApplied()).isZero();
        }
        assertThat(count("SELECT COUNT(*) FROM spend_ledger")).isZero();
        assertThat(count("SELECT COUNT(*) FROM budget_windows")).isZero();
    }

    // ---- helpers

    static SpendRow spend(String requestId, String keyId, String team, long costNanos) {
        return new SpendRow(requestId, System.currentTimeMillis(), keyId, team, "gpt-4o-mini", "openai-gpt-4o-mini",
                "chat", 200, "answered", null, 10, 20, 0, costNanos, 5, false, false, null, "http");
    }

    static void charge(ThroughThePolicies gateway, String requestId, String keyId, String team, long costNanos) {
        gateway.request(asked -> {
            asked.setProperty(ExchangeKeys.REQUEST_ID, requestId);
            asked.setProperty(ExchangeKeys.PRINCIPAL, new Principal(keyId, team, "user", null));
            asked.setProperty(ExchangeKeys.MODEL, MODEL);
        }, ended -> {
            ended.setProperty(ExchangeKeys.STATUS, 200);
            ended.setProperty(ExchangeKeys.COST_NANOS, costNanos);
        });
    }

    static void awaitWritten(LedgerWriter writer, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (writer.pending() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(2);
        }
        assertThat(writer.pending()).as("rows still waiting after %s", timeout).isZero();
    }

    double dropped() {
        return registry.get("caravan.ledger.dropped").counter().count();
    }

    double queued() {
        return registry.get("caravan.ledger.queued").gauge().value();
    }

    /** A connection of the test's own to the ledger's database, beside (or after) the ledger's pool. */
    Connection connect() throws SQLException {
        LedgerSettings s = settings();
        Properties p = new Properties();
        if (!s.postgres()) {
            p.setProperty("user", "sa");
            p.setProperty("password", "");
        }
        return DriverManager.getConnection(s.jdbcUrl(), p);
    }

    long count(String sql) throws SQLException {
        try (Connection c = connect(); Statement s = c.createStatement(); ResultSet r = s.executeQuery(sql)) {
            r.next();
            return r.getLong(1);
        }
    }

    Map<String, Object> row(String requestId) throws SQLException {
        try (Connection c = connect();
             var s = c.prepareStatement("SELECT * FROM spend_ledger WHERE request_id = ?")) {
            s.setString(1, requestId);
            try (ResultSet r = s.executeQuery()) {
                assertThat(r.next()).as("a row for %s", requestId).isTrue();
                ResultSetMetaData meta = r.getMetaData();
                Map<String, Object> row = new HashMap<>();
                for (int i = 1; i <= meta.getColumnCount(); i++) {
                    row.put(meta.getColumnLabel(i).toLowerCase(Locale.ROOT), r.getObject(i));
                }
                return row;
            }
        }
    }
}
