package dev.caravan.auth;

import dev.caravan.config.ConfigHolder;
import dev.caravan.config.KeyConfig;
import dev.caravan.config.TeamConfig;
import dev.caravan.core.ClientRequest;
import dev.caravan.redis.RedisChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The admin API's keys and teams as every replica holds them: loaded from the database into the live config
 * ({@link ConfigHolder#replaceRuntime}), so the key lookup on the request path stays in memory. A change made here
 * applies before the admin call answers; other replicas hear of it on a Redis channel (with
 * {@code CARAVAN_REDIS_URL}) and load it within a second, and every replica also loads again every 30 s, so a notice
 * lost while Redis was away is caught up. Last-used times are gathered in memory and written every 5 s.
 */
public final class KeyDirectory implements KeyUses, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(KeyDirectory.class);
    static final long SAFETY_RELOAD_SECONDS = 30;
    static final long TOUCH_SECONDS = 5;
    // revoked keys remembered for the audit of a later use; past this many the oldest revoked are forgotten (their
    // use is still refused, only not audited as such)
    static final int MAX_REVOKED = 100_000;

    private final DataSource database;
    private final KeyStore store = new KeyStore();
    private final ConfigHolder config;
    private final java.util.function.BiConsumer<String, ClientRequest> revokedUses;
    private final ScheduledExecutorService thread;
    // key id -> when last used, not yet written; bounded by the number of keys (only known API keys are put)
    private final Map<String, Long> lastUsed = new ConcurrentHashMap<>();
    private volatile Map<String, String> revoked = Map.of();        // sha256 hex -> key id
    private volatile RedisChannel channel;
    private ScheduledFuture<?> graceEnd;                             // guarded by this

    /**
     * @param revokedUses told of each use of a revoked key's secret (key id, request), on the request path: the
     *                    audit log queues it
     */
    public KeyDirectory(DataSource database, ConfigHolder config,
                        java.util.function.BiConsumer<String, ClientRequest> revokedUses) {
        this.database = database;
        this.config = config;
        this.revokedUses = revokedUses;
        this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "caravan-key-directory");
            t.setDaemon(true);
            return t;
        });
    }

    public KeyStore store() {
        return store;
    }

    public DataSource database() {
        return database;
    }

    /**
     * Loads the keys and teams (the start waits for it), then keeps them current: from {@code channelName} on the
     * Redis at {@code redisUrl} when one is given, and every 30 s.
     */
    public void start(String redisUrl, String channelName) {
        refresh();
        if (redisUrl != null) {
            channel = RedisChannel.open(redisUrl, channelName, message -> thread.execute(this::refreshQuietly),
                    () -> thread.execute(this::refreshQuietly));
        }
        thread.scheduleWithFixedDelay(this::refreshQuietly, SAFETY_RELOAD_SECONDS, SAFETY_RELOAD_SECONDS,
                TimeUnit.SECONDS);
        thread.scheduleWithFixedDelay(this::writeLastUsed, TOUCH_SECONDS, TOUCH_SECONDS, TimeUnit.SECONDS);
    }

    /**
     * After an admin change committed: this replica loads it before the call answers, and every other replica is
     * told to. Runs on the admin thread.
     */
    public void changed() {
        refresh();
        RedisChannel c = channel;
        if (c != null) {
            c.publish("keys").whenComplete((n, failure) -> {
                if (failure != null) {
                    LOG.warn("Could not tell the other replicas of a key change ({}); they load it within {} s",
                            failure.getMessage(), SAFETY_RELOAD_SECONDS);
                }
            });
        }
    }

    /** Loads every key and team and swaps them into the live config (a no-op when nothing changed). */
    public synchronized void refresh() {
        Map<String, KeyConfig> keys = new HashMap<>();
        Map<String, TeamConfig> teams = new LinkedHashMap<>();
        Map<String, String> gone = new LinkedHashMap<>();
        Instant now = Instant.now();
        Instant nextGraceEnd = null;
        try (Connection c = database.getConnection()) {
            for (KeyStore.StoredTeam t : store.teams(c)) {
                teams.put(t.team().name(), t.team());
            }
            for (KeyStore.StoredKey k : store.keys(c)) {
                if (k.revoked()) {
                    gone.put(k.key().sha256(), k.key().id());
                    if (k.previousSha256() != null) {
                        gone.put(k.previousSha256(), k.key().id());
                    }
                    continue;
                }
                keys.put(k.key().sha256(), k.key());
                if (k.previousSha256() != null && k.previousUntil() != null && k.previousUntil().isAfter(now)) {
                    keys.put(k.previousSha256(), k.key().withSecret(k.previousSha256(), k.previousUntil()));
                    nextGraceEnd = nextGraceEnd == null || k.previousUntil().isBefore(nextGraceEnd)
                            ? k.previousUntil() : nextGraceEnd;
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("the admin API's keys cannot be read: " + e.getMessage(), e);
        }
        if (gone.size() > MAX_REVOKED) {
            Map<String, String> newest = new LinkedHashMap<>();
            gone.entrySet().stream().skip(gone.size() - MAX_REVOKED).forEach(e -> newest.put(e.getKey(), e.getValue()));
            gone = newest;
        }
        revoked = Map.copyOf(gone);
        if (!config.runtimeKeys().equals(keys) || !config.runtimeTeams().equals(teams)) {
            config.replaceRuntime(keys, teams);
        }
        // an old secret's grace ends: it is dropped then (the lookup also checks its end, to the millisecond)
        if (graceEnd != null) {
            graceEnd.cancel(false);
        }
        if (nextGraceEnd != null) {
            long delay = Math.max(0, nextGraceEnd.toEpochMilli() - System.currentTimeMillis()) + 10;
            graceEnd = thread.schedule(this::refreshQuietly, delay, TimeUnit.MILLISECONDS);
        }
    }

    private void refreshQuietly() {
        try {
            refresh();
        } catch (RuntimeException e) {
            LOG.warn("Could not load the admin API's keys and teams ({}); the ones loaded before keep working",
                    e.getMessage());
        }
    }

    @Override
    public void used(KeyConfig key) {
        if (KeyConfig.API.equals(key.source())) {
            lastUsed.put(key.id(), System.currentTimeMillis());
        }
    }

    @Override
    public String revoked(String sha256Hex) {
        return revoked.get(sha256Hex);
    }

    @Override
    public void revokedUse(String keyId, ClientRequest request) {
        revokedUses.accept(keyId, request);
    }

    private void writeLastUsed() {
        if (lastUsed.isEmpty()) {
            return;
        }
        Map<String, Long> batch = new HashMap<>();
        for (String id : lastUsed.keySet()) {
            Long at = lastUsed.remove(id);
            if (at != null) {
                batch.put(id, at);
            }
        }
        try (Connection c = database.getConnection()) {
            store.touch(c, batch);
        } catch (SQLException | RuntimeException e) {
            LOG.debug("Could not write the keys' last-used times: {}", e.toString());
        }
    }

    @Override
    public void close() {
        writeLastUsed();
        thread.shutdownNow();
        RedisChannel c = channel;
        if (c != null) {
            c.close();
        }
    }
}
