package dev.caravan.responses;

import javax.sql.DataSource;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.SQLTransientConnectionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * A replica's way to the shared database with a switch in it: open, failing (as a pool whose database is gone:
 * no SQLSTATE, an outage) or blocked (connections wait until it opens, as a database that has stopped answering).
 */
final class GatedDataSource implements DataSource {

    enum Mode { OPEN, FAILING, BLOCKED }

    private final DataSource database;
    private final AtomicInteger waiting = new AtomicInteger();
    private volatile Mode mode = Mode.OPEN;

    GatedDataSource(DataSource database) {
        this.database = database;
    }

    void set(Mode next) {
        synchronized (this) {
            mode = next;
            notifyAll();
        }
    }

    /** Callers held at the gate while it is blocked. */
    int waiting() {
        return waiting.get();
    }

    @Override
    public Connection getConnection() throws SQLException {
        synchronized (this) {
            if (mode == Mode.BLOCKED) {
                waiting.incrementAndGet();
                try {
                    while (mode == Mode.BLOCKED) {
                        wait();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new SQLTransientConnectionException("interrupted at the gate");
                } finally {
                    waiting.decrementAndGet();
                }
            }
        }
        if (mode == Mode.FAILING) {
            throw new SQLTransientConnectionException("the database is away (test)");
        }
        return database.getConnection();
    }

    @Override
    public Connection getConnection(String user, String password) throws SQLException {
        return getConnection();
    }

    @Override
    public PrintWriter getLogWriter() throws SQLException {
        return database.getLogWriter();
    }

    @Override
    public void setLogWriter(PrintWriter out) throws SQLException {
        database.setLogWriter(out);
    }

    @Override
    public void setLoginTimeout(int seconds) throws SQLException {
        database.setLoginTimeout(seconds);
    }

    @Override
    public int getLoginTimeout() throws SQLException {
        return database.getLoginTimeout();
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
        return database.getParentLogger();
    }

    @Override
    public <T> T unwrap(Class<T> type) throws SQLException {
        return database.unwrap(type);
    }

    @Override
    public boolean isWrapperFor(Class<?> type) throws SQLException {
        return database.isWrapperFor(type);
    }
}
