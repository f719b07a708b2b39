package dev.caravan.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;
import dev.caravan.dialect.openai.ResponseStore.Stored;

import javax.sql.DataSource;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * The statements on {@code stored_responses} (db/migration/V5__stored_responses.sql), the same on H2 and PostgreSQL
 * but for the insert: a batch retried after a commit whose answer was lost must not fail on its own rows.
 */
final class ResponseSql {

    private static final String COLUMNS = "(id, owner, created_millis, expires_millis, response_json, conversation_json)";
    private static final String INSERT_POSTGRES = "INSERT INTO stored_responses " + COLUMNS
            + " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING";
    private static final String INSERT_H2 = "MERGE INTO stored_responses " + COLUMNS + " KEY (id) VALUES (?, ?, ?, ?, ?, ?)";
    private static final String FIND = "SELECT owner, response_json, conversation_json FROM stored_responses"
            + " WHERE id = ? AND owner = ? AND expires_millis > ?";
    private static final String DELETE = "DELETE FROM stored_responses WHERE id = ? AND owner = ? AND expires_millis > ?";
    private static final String FORGET = "DELETE FROM stored_responses WHERE id = ?";
    // a subquery, since PostgreSQL's DELETE takes no LIMIT; the index on expires_millis finds the rows
    private static final String PURGE = "DELETE FROM stored_responses WHERE id IN (SELECT id FROM stored_responses"
            + " WHERE expires_millis <= ? ORDER BY expires_millis LIMIT ?)";

    private final DataSource dataSource;
    private final boolean postgres;

    ResponseSql(DataSource dataSource, boolean postgres) {
        this.dataSource = dataSource;
        this.postgres = postgres;
    }

    /** The row of {@code id}, if {@code owner} made it and it expires after {@code nowMillis}. */
    Optional<Stored> find(String id, String owner, long nowMillis) throws SQLException, IOException {
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(FIND)) {
            s.setString(1, id);
            s.setString(2, owner);
            s.setLong(3, nowMillis);
            try (ResultSet r = s.executeQuery()) {
                if (!r.next()) {
                    return Optional.empty();
                }
                JsonNode response = Json.MAPPER.readTree(r.getString(2));
                JsonNode conversation = Json.MAPPER.readTree(r.getString(3));
                if (!(response instanceof ObjectNode o) || !conversation.isArray()) {
                    throw new IOException("the row of a stored response does not hold a response and its conversation");
                }
                List<JsonNode> turns = new ArrayList<>(conversation.size());
                conversation.forEach(turns::add);
                return Optional.of(new Stored(r.getString(1), o, List.copyOf(turns)));
            }
        }
    }

    /** Deletes the row of {@code id} if {@code owner} made it and it has not expired; true when it did. */
    boolean delete(String id, String owner, long nowMillis) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(DELETE)) {
            s.setString(1, id);
            s.setString(2, owner);
            s.setLong(3, nowMillis);
            return s.executeUpdate() > 0;
        }
    }

    /** Inserts the batch in one transaction (a row already there is left as it is). */
    void insert(Collection<ResponseWriter.Pending> batch) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement s = c.prepareStatement(postgres ? INSERT_POSTGRES : INSERT_H2)) {
                for (ResponseWriter.Pending p : batch) {
                    s.setString(1, p.id());
                    s.setString(2, p.stored().owner());
                    s.setLong(3, p.createdMillis());
                    s.setLong(4, p.expiresMillis());
                    s.setString(5, Json.string(p.stored().response()));
                    ArrayNode conversation = Json.MAPPER.createArrayNode().addAll(p.stored().conversation());
                    s.setString(6, Json.string(conversation));
                    s.addBatch();
                }
                s.executeBatch();
                c.commit();
            } catch (SQLException | RuntimeException e) {
                rollback(c);
                throw e;
            }
        }
    }

    /** Deletes these rows whoever made them: responses deleted while their rows were being written. */
    void forget(Collection<String> ids) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(FORGET)) {
            for (String id : ids) {
                s.setString(1, id);
                s.addBatch();
            }
            s.executeBatch();
        }
    }

    /** Deletes up to {@code limit} rows that expired by {@code nowMillis}; how many it deleted. */
    int purge(long nowMillis, int limit) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(PURGE)) {
            s.setLong(1, nowMillis);
            s.setInt(2, limit);
            return s.executeUpdate();
        }
    }

    private static void rollback(Connection c) {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // the connection is likely gone; the pool discards it
        }
    }
}
