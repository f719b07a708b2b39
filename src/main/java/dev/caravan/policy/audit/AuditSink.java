package dev.caravan.policy.audit;

import dev.caravan.config.AuditConfig;
import dev.caravan.core.Json;
import dev.caravan.policy.audit.AuditLog.AuditRow;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * The copy for a SIEM ({@code audit.sink: stdout | file}): each row this gateway appended, as one JSON line, once
 * its transaction has committed. An appender names its rows here before it commits (it cannot know when a caller's
 * transaction ends); this thread reads them back from the table once they are there, in seq order, and writes
 * them. Appends commit in seq order (the head lock), so a row named here that never shows while a later seq has
 * committed was rolled back and is forgotten. Off the request path; the config is read on every pass, so a reload
 * that changes the sink applies at once.
 */
final class AuditSink {

    private static final Logger LOG = LoggerFactory.getLogger(AuditSink.class);
    /** Rows named and not yet seen committed, at most; past it the oldest are forgotten (and logged). */
    static final int MAX_PENDING = 10_000;
    private static final int PAGE = 500;
    private static final long PASS_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final DataSource dataSource;
    private final Supplier<AuditConfig> config;
    // hash -> seq of rows named and not yet seen committed; insertion order, so the oldest go first past the bound
    private final Map<String, Long> pending = new LinkedHashMap<>();
    private final Thread thread;
    private volatile boolean closing;
    private Path openFile;
    private Writer file;
    private long forgotten;

    AuditSink(DataSource dataSource, Supplier<AuditConfig> config) {
        this.dataSource = dataSource;
        this.config = config;
        this.thread = new Thread(this::run, "caravan-audit-sink");
        thread.setDaemon(true);
        thread.start();
    }

    /** Rows about to commit in an appender's transaction; nothing is kept while the sink is {@code none}. */
    void appending(List<AuditRow> rows) {
        if ("none".equals(config.get().sink())) {
            return;
        }
        synchronized (pending) {
            for (AuditRow row : rows) {
                pending.put(row.hash(), row.seq());
                if (pending.size() > MAX_PENDING) {
                    Iterator<String> oldest = pending.keySet().iterator();
                    oldest.next();
                    oldest.remove();
                    forgotten++;
                }
            }
        }
        LockSupport.unpark(thread);
    }

    /** Writes what has committed (waiting up to {@code millis}) and stops. */
    void close(long millis) {
        closing = true;
        LockSupport.unpark(thread);
        try {
            thread.join(Math.max(1, millis));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        while (true) {
            boolean stopping = closing;
            try {
                pass();
            } catch (SQLException | RuntimeException e) {
                LOG.warn("Audit sink: could not read the committed rows: {}", e.getMessage());
                LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
            }
            if (stopping) {
                closeFile();
                return; // one last pass after close began
            }
            LockSupport.parkNanos(this, PASS_NANOS);
        }
    }

    private void pass() throws SQLException {
        AuditConfig now = config.get();
        if ("none".equals(now.sink())) {
            synchronized (pending) {
                pending.clear();
            }
            closeFile();
            return;
        }
        reportForgotten();
        while (true) {
            long from;
            synchronized (pending) {
                if (pending.isEmpty()) {
                    return;
                }
                from = pending.values().stream().mapToLong(Long::longValue).min().getAsLong();
            }
            List<AuditRow> committed = read(from);
            if (committed.isEmpty()) {
                return; // still in their transactions
            }
            List<AuditRow> ours = new ArrayList<>();
            long last = committed.get(committed.size() - 1).seq();
            synchronized (pending) {
                for (AuditRow row : committed) {
                    if (pending.remove(row.hash()) != null) {
                        ours.add(row);
                    }
                }
                // seen committed up to last: a row named at or below it that is not there was rolled back
                pending.values().removeIf(seq -> seq <= last);
            }
            write(now, ours);
            if (committed.size() < PAGE) {
                return;
            }
        }
    }

    private List<AuditRow> read(long fromSeq) throws SQLException {
        List<AuditRow> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement s = c.prepareStatement("SELECT " + AuditChain.COLUMNS
                     + " FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT " + PAGE)) {
            s.setLong(1, fromSeq);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    rows.add(AuditChain.read(r).row());
                }
            }
        }
        return rows;
    }

    private void write(AuditConfig now, List<AuditRow> rows) {
        if (rows.isEmpty()) {
            return;
        }
        StringBuilder lines = new StringBuilder();
        for (AuditRow row : rows) {
            lines.append(Json.string(AuditJson.row(row))).append('\n');
        }
        if ("stdout".equals(now.sink())) {
            closeFile();
            System.out.print(lines);
            System.out.flush();
            return;
        }
        try {
            if (file == null || !now.file().equals(openFile)) {
                closeFile();
                Path parent = now.file().toAbsolutePath().getParent();
                if (parent != null) {
                    Files.createDirectories(parent);
                }
                file = Files.newBufferedWriter(now.file(), StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND);
                openFile = now.file();
            }
            file.write(lines.toString());
            file.flush();
        } catch (IOException e) {
            LOG.warn("Audit sink: could not append {} row(s) to {}: {}", rows.size(), now.file(), e.getMessage());
            closeFile();
        }
    }

    private void closeFile() {
        if (file != null) {
            try {
                file.close();
            } catch (IOException ignored) {
                // closing only
            }
            file = null;
            openFile = null;
        }
    }

    private void reportForgotten() {
        long n;
        synchronized (pending) {
            n = forgotten;
            forgotten = 0;
        }
        if (n > 0) {
            LOG.warn("Audit sink: {} row(s) not copied: more than {} were waiting to commit", n, MAX_PENDING);
        }
    }
}
