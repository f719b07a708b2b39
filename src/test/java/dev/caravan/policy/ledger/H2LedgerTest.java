package dev.caravan.policy.ledger;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The ledger in its default home, an H2 file under the data folder (a fresh folder per test). */
class H2LedgerTest extends LedgerContract {

    @TempDir
    Path dir;

    @Override
    LedgerSettings settings(int queueCapacity, int batchSize, Duration flushInterval) {
        return new LedgerSettings(true, dir.resolve("data"), null, null, null, queueCapacity, batchSize, flushInterval);
    }

    @Override
    String databaseName() {
        return "H2";
    }

    @Test
    void theDatabaseIsOneFileUnderTheDataFolder() {
        LedgerSettings settings = LedgerSettings.fromEnvironment(
                Map.of("CARAVAN_DATA_DIR", dir.resolve("state").toString())::get, name -> null);
        try (Ledger ledger = Ledger.open(settings, registry)) {
            assertThat(dir.resolve("state").resolve("caravan.mv.db")).isRegularFile();
        }
    }

    @Test
    void rowsPastTheBoundAreDroppedAndCountedWhileTheDatabaseIsGone() {
        LedgerSettings settings = settings(1000, 100, Duration.ofMillis(50));
        LedgerDatabase database = LedgerDatabase.open(settings);
        LedgerWriter writer = new LedgerWriter(database.dataSource(), new LedgerSql(false), settings, registry);
        database.close(); // the pool goes away underneath the writer
        ListAppender<ILoggingEvent> log = capture();

        int accepted = 0;
        for (int i = 0; i < 1250; i++) {
            accepted += writer.offer(spend("req_" + i, "k", "t", 1)) ? 1 : 0; // never throws, never waits
        }
        assertThat(accepted).isEqualTo(1000);
        assertThat(dropped()).isEqualTo(250);
        assertThat(queued()).isEqualTo(1000);

        long start = System.nanoTime();
        assertThat(writer.close(Duration.ofMillis(500))).as("drained").isFalse();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        assertThat(dropped()).as("the overflow, then what close could not write").isEqualTo(1250);

        List<String> warnings = log.list.stream().filter(e -> e.getLevel() == Level.WARN)
                .map(ILoggingEvent::getFormattedMessage).toList();
        assertThat(warnings.stream().filter(w -> w.contains("was full"))).as("one report per 10 s at most")
                .hasSizeLessThanOrEqualTo(1);
        assertThat(warnings.stream().mapToLong(H2LedgerTest::droppedIn).sum()).isEqualTo(250);
        assertThat(warnings).anyMatch(w -> w.contains("1000 row(s) not written"));
    }

    private static ListAppender<ILoggingEvent> capture() {
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        ((Logger) LoggerFactory.getLogger(LedgerWriter.class)).addAppender(appender);
        return appender;
    }

    private static long droppedIn(String warning) {
        Matcher m = Pattern.compile("dropped (\\d+) row").matcher(warning);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }
}
