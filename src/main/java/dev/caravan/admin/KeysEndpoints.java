package dev.caravan.admin;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.auth.KeyAuthenticator;
import dev.caravan.auth.KeySpecs;
import dev.caravan.auth.KeyStore.StoredKey;
import dev.caravan.auth.Role;
import dev.caravan.config.ConfigHolder;
import dev.caravan.config.GatewayConfig;
import dev.caravan.config.KeyConfig;
import dev.caravan.config.Limits;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@code /admin/keys}: virtual keys made, listed, changed, rotated and revoked at run time. The secret
 * ({@code sk-cvn-} and 32 random base62 characters) is made here, shown once in the create or rotate answer, and
 * kept only as its SHA-256. Keys from config/gateway.yaml are listed too and cannot be changed here (409).
 * An admin reaches every key; a team-admin only its own team's (another team's key is 404); a viewer none.
 */
public final class KeysEndpoints {

    static final Duration MAX_GRACE = Duration.ofDays(30);
    private static final Set<String> CREATE_FIELDS = Set.of("id", "team", "role", "models", "limits", "budget",
            "regions", "metadata", "expires");
    private static final Set<String> PATCH_FIELDS = Set.of("team", "role", "models", "limits", "budget", "regions",
            "metadata", "expires");

    private final AdminStore store;
    private final ConfigHolder config;

    KeysEndpoints(AdminStore store, ConfigHolder config) {
        this.store = store;
        this.config = config;
    }

    /** Adds the key endpoints to {@code api}; {@code directory} is null without a database. */
    public static void register(AdminApi api, dev.caravan.auth.KeyDirectory directory,
                                dev.caravan.policy.audit.AuditLog audit, ConfigHolder config) {
        KeysEndpoints keys = new KeysEndpoints(new AdminStore(directory, audit), config);
        api.add("POST", "/admin/keys", keys::create)
                .add("GET", "/admin/keys", keys::list)
                .add("GET", "/admin/keys/{id}", keys::get)
                .add("PATCH", "/admin/keys/{id}", keys::update)
                .add("POST", "/admin/keys/{id}/rotate", keys::rotate)
                .add("DELETE", "/admin/keys/{id}", keys::revoke);
    }

    /** A new secret: {@code sk-cvn-} and 32 base62 characters (190 bits). */
    public static String newSecret() {
        return dev.caravan.auth.KeySecrets.newSecret();
    }

    static String sha256Hex(String secret) {
        return dev.caravan.auth.KeySecrets.sha256Hex(secret);
    }

    AdminReply create(AdminRequest request) throws SQLException {
        AdminScope.require(request, Role.TEAM_ADMIN);
        BodyReader body = new BodyReader(request.objectBody(), CREATE_FIELDS);
        GatewayConfig now = config.get();
        String id = body.has("id") ? body.name("id") : dev.caravan.auth.KeySecrets.newId();
        if (id == null) {
            throw BodyReader.bad("invalid_value", "id", "'id' must not be null; leave it out to have one made.");
        }
        String own = AdminScope.team(request);
        String team = body.has("team") ? body.name("team") : own;
        checkTeam(request, now, team);
        Role role = role(request, body.has("role") ? body.text("role") : "user");
        Set<String> models = BodyReader.knownModels(now, body.names("models"));
        KeyConfig key = new KeyConfig(id, null, role.text(), team, models, body.limits("limits"),
                body.budget("budget"), body.expiry("expires"), body.names("regions"), body.metadata("metadata"),
                KeyConfig.API, Instant.now());
        if (configKey(now, id).isPresent()) {
            throw GatewayException.conflict("key_exists", "id", "A key '" + id + "' is defined in config/gateway.yaml.");
        }
        String secret = newSecret();
        KeyConfig stored = new KeyConfig(id, sha256Hex(secret), key.role(), key.team(), key.models(), key.limits(),
                key.budget(), key.expiresAt(), key.regions(), key.metadata(), KeyConfig.API, key.createdAt());
        try {
            store.write(tx -> {
                if (store.directory().store().key(tx, id, false).isPresent()) {
                    throw GatewayException.conflict("key_exists", "id", "A key '" + id + "' exists already.");
                }
                store.directory().store().insertKey(tx, stored, System.currentTimeMillis());
                return stored;
            }, k -> AdminStore.event(request, "key.create", "key:" + id, team, null, view(k, null)));
        } catch (SQLException e) {
            if ("23505".equals(e.getSQLState())) { // made by a concurrent call between the check and the insert
                throw GatewayException.conflict("key_exists", "id", "A key '" + id + "' exists already.");
            }
            throw e;
        }
        ObjectNode answer = view(stored, null);
        answer.put("key", secret);
        return AdminReply.created(answer);
    }

    AdminReply list(AdminRequest request) throws SQLException {
        AdminScope.require(request, Role.TEAM_ADMIN);
        String own = AdminScope.team(request);
        String teamFilter = request.param("team");
        unknownParams(request, Set.of("team"));
        if (teamFilter != null && own != null && !own.equals(teamFilter)) {
            throw teamNotFound(teamFilter);
        }
        List<ObjectNode> rows = new ArrayList<>();
        for (KeyConfig k : configKeys(config.get())) {
            if (AdminScope.sees(request, k.team()) && (teamFilter == null || teamFilter.equals(k.team()))) {
                rows.add(view(k, null));
            }
        }
        if (store.hasDatabase()) {
            for (StoredKey k : store.read(c -> store.directory().store().keys(c))) {
                if (AdminScope.sees(request, k.key().team()) && (teamFilter == null || teamFilter.equals(k.key().team()))) {
                    rows.add(view(k.key(), k));
                }
            }
        }
        rows.sort(Comparator.comparing(n -> n.path("id").asText()));
        ObjectNode answer = Json.object().put("object", "list");
        ArrayNode data = answer.putArray("data");
        rows.forEach(data::add);
        return AdminReply.ok(answer);
    }

    AdminReply get(AdminRequest request) throws SQLException {
        AdminScope.require(request, Role.TEAM_ADMIN);
        String id = request.pathParam("id");
        Optional<KeyConfig> inConfig = configKey(config.get(), id);
        if (inConfig.isPresent()) {
            if (!AdminScope.sees(request, inConfig.get().team())) {
                throw AdminScope.notFound("key", id);
            }
            return AdminReply.ok(view(inConfig.get(), null));
        }
        StoredKey k = stored(request, id);
        return AdminReply.ok(view(k.key(), k));
    }

    AdminReply update(AdminRequest request) throws SQLException {
        AdminScope.require(request, Role.TEAM_ADMIN);
        String id = request.pathParam("id");
        refuseConfigKey(request, id);
        BodyReader body = new BodyReader(request.objectBody(), PATCH_FIELDS);
        GatewayConfig now = config.get();
        StoredKey found = stored(request, id);
        requireOutranks(request, found.key());
        StoredKey updated = store.write(tx -> {
            StoredKey current = store.directory().store().key(tx, id, true).orElseThrow(() -> AdminScope.notFound("key", id));
            if (current.revoked()) {
                throw GatewayException.conflict("key_revoked", null, "The key '" + id + "' is revoked; make a new one.");
            }
            KeyConfig k = current.key();
            String team = body.has("team") ? body.name("team") : k.team();
            if (body.has("team")) {
                checkTeam(request, now, team);
            }
            String role = body.has("role") ? role(request, body.text("role")).text() : k.role();
            if (body.has("role") && body.cleared("role")) {
                throw BodyReader.bad("invalid_value", "role", "'role' cannot be cleared; give user, viewer, team-admin or admin.");
            }
            KeyConfig next = new KeyConfig(id, k.sha256(), role, team,
                    body.has("models") ? BodyReader.knownModels(now, body.names("models")) : k.models(),
                    body.has("limits") ? body.limits("limits") : k.limits(),
                    body.has("budget") ? body.budget("budget") : k.budget(),
                    body.has("expires") ? body.expiry("expires") : k.expiresAt(),
                    body.has("regions") ? body.names("regions") : k.regions(),
                    body.has("metadata") ? body.metadata("metadata") : k.metadata(), KeyConfig.API, k.createdAt());
            store.directory().store().updateKey(tx, next, System.currentTimeMillis());
            return new StoredKey(next, Instant.now(), current.lastUsedAt(), current.previousSha256(),
                    current.previousUntil(), null);
        }, k -> AdminStore.event(request, "key.update", "key:" + id, k.key().team(), view(found.key(), found),
                view(k.key(), k)));
        return AdminReply.ok(view(updated.key(), updated));
    }

    AdminReply rotate(AdminRequest request) throws SQLException {
        AdminScope.require(request, Role.TEAM_ADMIN);
        String id = request.pathParam("id");
        refuseConfigKey(request, id);
        Duration grace = Duration.ZERO;
        if (request.body() != null) {
            grace = new BodyReader(request.objectBody(), Set.of("gracePeriod")).duration("gracePeriod", Duration.ZERO, MAX_GRACE);
        }
        requireOutranks(request, stored(request, id).key());
        String secret = newSecret();
        Duration keep = grace;
        StoredKey rotated = store.write(tx -> {
            StoredKey current = store.directory().store().key(tx, id, true).orElseThrow(() -> AdminScope.notFound("key", id));
            if (current.revoked()) {
                throw GatewayException.conflict("key_revoked", null, "The key '" + id + "' is revoked; make a new one.");
            }
            Instant until = keep.isZero() ? null : Instant.now().plus(keep);
            store.directory().store().rotateKey(tx, id, sha256Hex(secret), current.key().sha256(), until,
                    System.currentTimeMillis());
            KeyConfig k = current.key();
            KeyConfig next = new KeyConfig(id, sha256Hex(secret), k.role(), k.team(), k.models(), k.limits(),
                    k.budget(), k.expiresAt(), k.regions(), k.metadata(), KeyConfig.API, k.createdAt());
            return new StoredKey(next, Instant.now(), current.lastUsedAt(), until == null ? null : k.sha256(), until, null);
        }, k -> AdminStore.event(request, "key.rotate", "key:" + id, k.key().team(), null,
                Json.object().put("grace_seconds", keep.toSeconds())));
        ObjectNode answer = view(rotated.key(), rotated);
        answer.put("key", secret);
        return AdminReply.ok(answer);
    }

    AdminReply revoke(AdminRequest request) throws SQLException {
        AdminScope.require(request, Role.TEAM_ADMIN);
        String id = request.pathParam("id");
        refuseConfigKey(request, id);
        StoredKey found = stored(request, id);
        requireOutranks(request, found.key());
        if (found.revoked()) {
            return AdminReply.ok(view(found.key(), found)); // already revoked: nothing changes, nothing recorded
        }
        StoredKey revoked = store.write(tx -> {
            store.directory().store().revokeKey(tx, id, System.currentTimeMillis());
            return store.directory().store().key(tx, id, false).orElseThrow();
        }, k -> AdminStore.event(request, "key.revoke", "key:" + id, k.key().team(), view(found.key(), found), null));
        return AdminReply.ok(view(revoked.key(), revoked));
    }

    /** The run-time key {@code id} within the caller's scope, revoked or not; 404 otherwise. */
    private StoredKey stored(AdminRequest request, String id) throws SQLException {
        StoredKey k = store.read(c -> store.directory().store().key(c, id, false))
                .orElseThrow(() -> AdminScope.notFound("key", id));
        if (!AdminScope.sees(request, k.key().team())) {
            throw AdminScope.notFound("key", id);
        }
        return k;
    }

    /** A caller changes only keys whose role it could give: a team-admin cannot touch an admin key of its team. */
    private static void requireOutranks(AdminRequest request, KeyConfig key) {
        Role role = Role.parse(key.role());
        if (!request.role().mayGrant(role)) {
            throw new GatewayException(403, "permission_error", "role_not_grantable", null,
                    "A " + request.role().text() + " may not change a key with role " + key.role() + ".", Map.of());
        }
    }

    private void refuseConfigKey(AdminRequest request, String id) {
        Optional<KeyConfig> k = configKey(config.get(), id);
        if (k.isPresent()) {
            if (!AdminScope.sees(request, k.get().team())) {
                throw AdminScope.notFound("key", id);
            }
            throw GatewayException.conflict("key_in_config", null, "The key '" + id
                    + "' is defined in config/gateway.yaml: change it there (the admin API changes only keys it made).");
        }
    }

    /** The team must exist and be within the caller's scope (another team: 404, as if it did not exist). */
    private static void checkTeam(AdminRequest request, GatewayConfig now, String team) {
        if (team == null) {
            if (AdminScope.team(request) != null) {
                throw BodyReader.bad("invalid_value", "team", "A team-admin's keys belong to its team.");
            }
            return;
        }
        if (now.team(team).isEmpty() || !AdminScope.sees(request, team)) {
            throw teamNotFound(team);
        }
    }

    static GatewayException teamNotFound(String team) {
        return new GatewayException(404, "invalid_request_error", "team_not_found", "team",
                "No team '" + GatewayException.quote(team) + "' exists.", Map.of());
    }

    private static Role role(AdminRequest request, String text) {
        Role role = Role.parse(text);
        if (role == null) {
            throw BodyReader.bad("invalid_value", "role", "'role' must be user, viewer, team-admin or admin.");
        }
        if (!request.role().mayGrant(role)) {
            throw new GatewayException(403, "permission_error", "role_not_grantable", "role",
                    "A " + request.role().text() + " may not give role " + role.text() + ".", Map.of());
        }
        return role;
    }

    private static void unknownParams(AdminRequest request, Set<String> known) {
        for (String name : request.query().keySet()) {
            if (!known.contains(name)) {
                throw BodyReader.bad("unknown_parameter", name, "Unknown query parameter '" + GatewayException.quote(name) + "'.");
            }
        }
    }

    private static Optional<KeyConfig> configKey(GatewayConfig now, String id) {
        return configKeys(now).stream().filter(k -> k.id().equals(id)).findFirst();
    }

    private static List<KeyConfig> configKeys(GatewayConfig now) {
        return now.keysBySha256().values().stream().filter(k -> KeyConfig.CONFIG.equals(k.source())).toList();
    }

    /** A key as the API shows it: never its secret or hash. */
    static ObjectNode view(KeyConfig k, StoredKey stored) {
        ObjectNode out = Json.object().put("object", "key").put("id", k.id());
        out.put("team", k.team());
        out.put("role", k.role());
        BodyReader.putNames(out, "models", k.models());
        out.set("limits", KeySpecs.limits(k.limits() == null ? Limits.NONE : k.limits()));
        out.set("budget", k.budget() == null ? out.nullNode() : KeySpecs.budget(k.budget()));
        BodyReader.putNames(out, "regions", k.regions());
        ObjectNode md = out.putObject("metadata");
        k.metadata().forEach(md::put);
        out.put("expires_at", k.expiresAt() == null ? null : k.expiresAt().toString());
        out.put("source", k.source());
        out.put("created_at", k.createdAt() == null ? null : k.createdAt().toString());
        out.put("updated_at", stored == null || stored.updatedAt() == null ? null : stored.updatedAt().toString());
        out.put("last_used_at", stored == null || stored.lastUsedAt() == null ? null : stored.lastUsedAt().toString());
        out.put("previous_key_valid_until", stored == null || stored.previousUntil() == null || stored.revoked() ? null
                : stored.previousUntil().toString());
        out.put("revoked_at", stored == null || stored.revokedAt() == null ? null : stored.revokedAt().toString());
        String status = stored != null && stored.revoked() ? "revoked"
                : k.expiresAt() != null && !Instant.now().isBefore(k.expiresAt()) ? "expired" : "active";
        out.put("status", status);
        return out;
    }
}
