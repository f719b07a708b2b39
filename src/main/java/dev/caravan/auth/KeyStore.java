package dev.caravan.auth;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.config.KeyConfig;
import dev.caravan.config.TeamConfig;
import dev.caravan.core.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The keys and teams made through the admin API, in the gateway's database ({@code api_keys}, {@code api_teams}).
 * Every method works in the caller's connection, so an admin call is one transaction with its audit row. Blocking:
 * the admin threads and the key directory's refresh call it, never an event loop.
 */
public final class KeyStore {

    /** A stored key: its settings as a {@link KeyConfig}, and what only the store knows. */
    public record StoredKey(KeyConfig key, Instant updatedAt, Instant lastUsedAt, String previousSha256,
                            Instant previousUntil, Instant revokedAt) {
        public boolean revoked() {
            return revokedAt != null;
        }
    }

    /** A stored team and when it was made and last changed. */
    public record StoredTeam(TeamConfig team, Map<String, String> metadata, Instant createdAt, Instant updatedAt) {
    }

    private static final String KEY_COLUMNS = "id, sha256, team, role, spec, expires_millis, created_millis, "
            + "updated_millis, last_used_millis, previous_sha256, previous_until_millis, revoked_millis";

    public List<StoredKey> keys(Connection c) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT " + KEY_COLUMNS + " FROM api_keys ORDER BY id")) {
            return readKeys(s);
        }
    }

    /** The key with this id, revoked or not; {@code forUpdate} locks its row until the transaction ends. */
    public Optional<StoredKey> key(Connection c, String id, boolean forUpdate) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT " + KEY_COLUMNS + " FROM api_keys WHERE id = ?"
                + (forUpdate ? " FOR UPDATE" : ""))) {
            s.setString(1, id);
            return readKeys(s).stream().findFirst();
        }
    }

    public void insertKey(Connection c, KeyConfig key, long nowMillis) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("INSERT INTO api_keys (id, sha256, team, role, spec, "
                + "expires_millis, created_millis, updated_millis) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            s.setString(1, key.id());
            s.setString(2, key.sha256());
            s.setString(3, key.team());
            s.setString(4, key.role());
            s.setString(5, spec(key));
            setMillis(s, 6, key.expiresAt());
            s.setLong(7, nowMillis);
            s.setLong(8, nowMillis);
            s.executeUpdate();
        }
    }

    /** Replaces a key's settings (not its secret). */
    public void updateKey(Connection c, KeyConfig key, long nowMillis) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("UPDATE api_keys SET team = ?, role = ?, spec = ?, "
                + "expires_millis = ?, updated_millis = ? WHERE id = ?")) {
            s.setString(1, key.team());
            s.setString(2, key.role());
            s.setString(3, spec(key));
            setMillis(s, 4, key.expiresAt());
            s.setLong(5, nowMillis);
            s.setString(6, key.id());
            s.executeUpdate();
        }
    }

    /** A new secret; the old one stays valid until {@code previousUntil} (null: not at all). */
    public void rotateKey(Connection c, String id, String sha256, String previousSha256, Instant previousUntil,
                          long nowMillis) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("UPDATE api_keys SET sha256 = ?, previous_sha256 = ?, "
                + "previous_until_millis = ?, updated_millis = ? WHERE id = ?")) {
            s.setString(1, sha256);
            s.setString(2, previousUntil == null ? null : previousSha256);
            setMillis(s, 3, previousUntil);
            s.setLong(4, nowMillis);
            s.setString(5, id);
            s.executeUpdate();
        }
    }

    public void revokeKey(Connection c, String id, long nowMillis) throws SQLException {
        // the previous secret stays: a later use of it is recognised as a revoked key's, and audited
        try (PreparedStatement s = c.prepareStatement("UPDATE api_keys SET revoked_millis = ?, updated_millis = ? "
                + "WHERE id = ?")) {
            s.setLong(1, nowMillis);
            s.setLong(2, nowMillis);
            s.setString(3, id);
            s.executeUpdate();
        }
    }

    /** Writes when each key was last used (a batch; keys gone since are skipped). */
    public void touch(Connection c, Map<String, Long> lastUsed) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("UPDATE api_keys SET last_used_millis = ? WHERE id = ? "
                + "AND (last_used_millis IS NULL OR last_used_millis < ?)")) {
            for (Map.Entry<String, Long> e : lastUsed.entrySet()) {
                s.setLong(1, e.getValue());
                s.setString(2, e.getKey());
                s.setLong(3, e.getValue());
                s.addBatch();
            }
            s.executeBatch();
        }
    }

    /** How many keys, revoked ones not counted, belong to {@code team}. */
    public int liveKeysOf(Connection c, String team) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(
                "SELECT COUNT(*) FROM api_keys WHERE team = ? AND revoked_millis IS NULL")) {
            s.setString(1, team);
            try (ResultSet r = s.executeQuery()) {
                r.next();
                return r.getInt(1);
            }
        }
    }

    public List<StoredTeam> teams(Connection c) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(
                "SELECT name, spec, created_millis, updated_millis FROM api_teams ORDER BY name")) {
            return readTeams(s);
        }
    }

    public Optional<StoredTeam> team(Connection c, String name, boolean forUpdate) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT name, spec, created_millis, updated_millis FROM "
                + "api_teams WHERE name = ?" + (forUpdate ? " FOR UPDATE" : ""))) {
            s.setString(1, name);
            return readTeams(s).stream().findFirst();
        }
    }

    public void insertTeam(Connection c, TeamConfig team, Map<String, String> metadata, long nowMillis)
            throws SQLException {
        try (PreparedStatement s = c.prepareStatement(
                "INSERT INTO api_teams (name, spec, created_millis, updated_millis) VALUES (?, ?, ?, ?)")) {
            s.setString(1, team.name());
            s.setString(2, spec(team, metadata));
            s.setLong(3, nowMillis);
            s.setLong(4, nowMillis);
            s.executeUpdate();
        }
    }

    public void updateTeam(Connection c, TeamConfig team, Map<String, String> metadata, long nowMillis)
            throws SQLException {
        try (PreparedStatement s = c.prepareStatement(
                "UPDATE api_teams SET spec = ?, updated_millis = ? WHERE name = ?")) {
            s.setString(1, spec(team, metadata));
            s.setLong(2, nowMillis);
            s.setString(3, team.name());
            s.executeUpdate();
        }
    }

    public void deleteTeam(Connection c, String name) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("DELETE FROM api_teams WHERE name = ?")) {
            s.setString(1, name);
            s.executeUpdate();
        }
    }

    private static String spec(KeyConfig key) {
        return Json.string(KeySpecs.write(key.models(), key.limits(), key.budget(), key.regions(), key.metadata()));
    }

    private static String spec(TeamConfig team, Map<String, String> metadata) {
        return Json.string(KeySpecs.write(team.models(), team.limits(), team.budget(), team.regions(), metadata));
    }

    private static List<StoredKey> readKeys(PreparedStatement s) throws SQLException {
        List<StoredKey> out = new ArrayList<>();
        try (ResultSet r = s.executeQuery()) {
            while (r.next()) {
                JsonNode spec = parse(r.getString("spec"));
                KeyConfig key = new KeyConfig(r.getString("id"), r.getString("sha256").trim(), r.getString("role"),
                        r.getString("team"), KeySpecs.models(spec), KeySpecs.limits(spec), KeySpecs.budget(spec),
                        instant(r, "expires_millis"), KeySpecs.regions(spec), KeySpecs.metadata(spec), KeyConfig.API,
                        instant(r, "created_millis"));
                String previous = r.getString("previous_sha256");
                out.add(new StoredKey(key, instant(r, "updated_millis"), instant(r, "last_used_millis"),
                        previous == null ? null : previous.trim(), instant(r, "previous_until_millis"),
                        instant(r, "revoked_millis")));
            }
        }
        return out;
    }

    private static List<StoredTeam> readTeams(PreparedStatement s) throws SQLException {
        List<StoredTeam> out = new ArrayList<>();
        try (ResultSet r = s.executeQuery()) {
            while (r.next()) {
                JsonNode spec = parse(r.getString("spec"));
                TeamConfig team = new TeamConfig(r.getString("name"), KeySpecs.limits(spec), KeySpecs.budget(spec),
                        KeySpecs.models(spec), KeySpecs.regions(spec), KeyConfig.API);
                out.add(new StoredTeam(team, KeySpecs.metadata(spec), instant(r, "created_millis"),
                        instant(r, "updated_millis")));
            }
        }
        return out;
    }

    private static JsonNode parse(String json) {
        try {
            return Json.MAPPER.readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException("an api_keys or api_teams row holds a spec that is not JSON", e);
        }
    }

    private static Instant instant(ResultSet r, String column) throws SQLException {
        long v = r.getLong(column);
        return r.wasNull() ? null : Instant.ofEpochMilli(v);
    }

    private static void setMillis(PreparedStatement s, int index, Instant at) throws SQLException {
        if (at == null) {
            s.setNull(index, Types.BIGINT);
        } else {
            s.setLong(index, at.toEpochMilli());
        }
    }
}
