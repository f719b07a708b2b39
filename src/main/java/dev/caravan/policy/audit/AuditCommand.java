package dev.caravan.policy.audit;

import dev.caravan.policy.ledger.LedgerDatabase;
import dev.caravan.policy.ledger.LedgerSettings;
import org.slf4j.LoggerFactory;

import java.io.PrintStream;
import java.nio.file.Files;
import java.util.function.Function;

/**
 * {@code java -jar caravan.jar audit verify}: checks the audit chain of the database the gateway would open with
 * the same environment ({@code CARAVAN_DB_URL}, or the H2 file under {@code CARAVAN_DATA_DIR}, {@code data/} from
 * the working directory), prints one line and exits 0 when it is intact, 1 when it is broken, 2 when there is no
 * database to check (the H2 file is missing or in use by a running gateway, PostgreSQL is unreachable).
 */
public final class AuditCommand {

    public static final int INTACT = 0;
    public static final int BROKEN = 1;
    public static final int UNAVAILABLE = 2;

    private AuditCommand() {
    }

    /** Whether {@code args} ask for this command ({@code audit ...}). */
    public static boolean wanted(String[] args) {
        return args.length > 0 && "audit".equals(args[0]);
    }

    /** From {@code main}: the process's environment and streams, and no INFO lines around the one line. */
    public static int fromCommandLine(String[] args) {
        quietLogs();
        return run(args, System::getenv, System.out, System.err);
    }

    /** Runs {@code args} ({@code audit verify}); the exit code. */
    public static int run(String[] args, Function<String, String> env, PrintStream out, PrintStream err) {
        if (args.length != 2 || !"verify".equals(args[1])) {
            err.println("usage: java -jar caravan.jar audit verify");
            return UNAVAILABLE;
        }
        LedgerSettings settings;
        try {
            settings = LedgerSettings.fromEnvironment(env, k -> null);
        } catch (IllegalArgumentException e) {
            err.println("audit log unavailable: " + e.getMessage());
            return UNAVAILABLE;
        }
        if (!settings.enabled()) {
            err.println("audit log unavailable: the ledger is off (CARAVAN_LEDGER_ENABLED=false), so there is no database");
            return UNAVAILABLE;
        }
        if (settings.dbUrl() == null && !Files.isRegularFile(settings.dataDir().resolve("caravan.mv.db"))) {
            // opening would make an empty database and call it intact
            err.println("audit log unavailable: no database at " + settings.dataDir().toAbsolutePath()
                    .resolve("caravan.mv.db") + " (set CARAVAN_DATA_DIR or CARAVAN_DB_URL as the gateway has them)");
            return UNAVAILABLE;
        }
        LedgerDatabase database;
        try {
            database = LedgerDatabase.open(settings);
        } catch (RuntimeException e) {
            err.println("audit log unavailable: " + e.getMessage());
            return UNAVAILABLE;
        }
        try (database) {
            AuditLog.Verification v = new AuditVerifier(database.dataSource()).verify();
            if (v.ok()) {
                out.println("audit log intact: " + v.rows() + " rows");
                return INTACT;
            }
            out.println("audit log broken at row " + v.firstBad() + ": " + v.reason());
            return BROKEN;
        } catch (RuntimeException e) {
            err.println("audit log unavailable: " + e.getMessage());
            return UNAVAILABLE;
        }
    }

    /** The one line is the output: the pool's and the migrations' INFO lines are not. */
    private static void quietLogs() {
        if (LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof ch.qos.logback.classic.Logger root) {
            root.setLevel(ch.qos.logback.classic.Level.WARN);
        }
    }
}
