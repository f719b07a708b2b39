package dev.caravan.audit;

import dev.caravan.config.AuditConfig;
import dev.caravan.policy.audit.AuditCommand;
import dev.caravan.policy.audit.SqlAuditLog;
import dev.caravan.policy.ledger.LedgerDatabase;
import dev.caravan.policy.ledger.LedgerSettings;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code java -jar caravan.jar audit verify} as an operator runs it beside a stopped gateway: one line, and an exit
 * code a script can test (0 intact, 1 broken, 2 no database to check).
 */
class AuditCommandTest {

    @TempDir
    Path dir;

    record Run(int exit, String out, String err) {
    }

    Run verify(Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = AuditCommand.run(args.length == 0 ? new String[] {"audit", "verify"} : args, env::get,
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Three rows in the database of {@code settings}, as a gateway would have left them. */
    static void threeRows(LedgerSettings settings) throws Exception {
        try (LedgerDatabase database = LedgerDatabase.open(settings);
             SqlAuditLog audit = new SqlAuditLog(database.dataSource(), () -> AuditConfig.NONE, new SimpleMeterRegistry())) {
            for (int i = 1; i <= 3; i++) {
                try (Connection tx = database.dataSource().getConnection()) {
                    tx.setAutoCommit(false);
                    audit.append(tx, AuditLogContract.event(i, "alice", "key.update", "key:k" + i, "t"));
                    tx.commit();
                }
            }
        }
    }

    static void sql(LedgerSettings settings, String statement) throws Exception {
        Properties user = new Properties();
        if (!settings.postgres()) {
            user.setProperty("user", "sa");
            user.setProperty("password", "");
        }
        try (Connection c = DriverManager.getConnection(settings.jdbcUrl(), user); Statement s = c.createStatement()) {
            s.execute(statement);
        }
    }

    @Test
    void anIntactH2FileExitsZeroAndATamperedOneExitsOneNamingTheRow() throws Exception {
        Map<String, String> env = Map.of("CARAVAN_DATA_DIR", dir.resolve("data").toString());
        LedgerSettings settings = LedgerSettings.fromEnvironment(env::get, k -> null);
        threeRows(settings);

        assertThat(verify(env)).isEqualTo(new Run(0, "audit log intact: 3 rows\n", ""));
        sql(settings, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2");
        assertThat(verify(env)).isEqualTo(new Run(1, "audit log broken at row 2: edited\n", ""));
        sql(settings, "UPDATE audit_log SET actor = 'alice' WHERE seq = 2");
        sql(settings, "DELETE FROM audit_log WHERE seq = 3");
        assertThat(verify(env)).isEqualTo(new Run(1, "audit log broken at row 3: head\n", ""));
    }

    @Test
    void theGatewaysMainRunsItAndExitsWithItsCode() throws Exception {
        Map<String, String> env = Map.of("CARAVAN_DATA_DIR", dir.resolve("data").toString());
        LedgerSettings settings = LedgerSettings.fromEnvironment(env::get, k -> null);
        threeRows(settings);
        sql(settings, "DELETE FROM audit_log WHERE seq = 2");

        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.caravan.Caravan", "audit", "verify");
        pb.environment().put("CARAVAN_DATA_DIR", dir.resolve("data").toString());
        pb.environment().remove("CARAVAN_DB_URL");
        Process p = pb.redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isEqualTo(1);
        assertThat(out).isEqualTo("audit log broken at row 3: deleted\n");
    }

    @Test
    void aPostgresLogIsCheckedThroughCaravanDbUrl() throws Exception {
        String server = "jdbc:postgresql://127.0.0.1:5432/test?user=postgres";
        String schema = "audit_cli_" + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
        try (Connection c = DriverManager.getConnection(server); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA " + schema);
        }
        try {
            Map<String, String> env = Map.of("CARAVAN_DB_URL", server + "&currentSchema=" + schema);
            LedgerSettings settings = LedgerSettings.fromEnvironment(env::get, k -> null);
            threeRows(settings);
            assertThat(verify(env)).isEqualTo(new Run(0, "audit log intact: 3 rows\n", ""));
            sql(settings, "UPDATE audit_log SET seq = -1 WHERE seq = 1");
            sql(settings, "UPDATE audit_log SET seq = 1 WHERE seq = 2");
            sql(settings, "UPDATE audit_log SET seq = 2 WHERE seq = -1");
            assertThat(verify(env)).isEqualTo(new Run(1, "audit log broken at row 1: reordered\n", ""));
        } finally {
            try (Connection c = DriverManager.getConnection(server); Statement s = c.createStatement()) {
                s.execute("DROP SCHEMA " + schema + " CASCADE");
            }
        }
    }

    @Test
    void noDatabaseToCheckExitsTwoAndSaysWhy() {
        Run missing = verify(Map.of("CARAVAN_DATA_DIR", dir.resolve("nowhere").toString()));
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.out()).isEmpty();
        assertThat(missing.err()).startsWith("audit log unavailable: no database at ").contains("nowhere");

        Run off = verify(Map.of("CARAVAN_LEDGER_ENABLED", "false"));
        assertThat(off.exit()).isEqualTo(2);
        assertThat(off.err()).contains("the ledger is off");

        Run unreachable = verify(Map.of("CARAVAN_DB_URL", "jdbc:postgresql://127.0.0.1:1/test?user=postgres&password=hunter2"));
        assertThat(unreachable.exit()).isEqualTo(2);
        assertThat(unreachable.err()).contains("unavailable").doesNotContain("hunter2");

        Run usage = verify(Map.of(), "audit", "check");
        assertThat(usage.exit()).isEqualTo(2);
        assertThat(usage.err()).contains("usage: java -jar caravan.jar audit verify");
    }
}
