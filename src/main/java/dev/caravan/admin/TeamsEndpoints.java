package dev.caravan.admin;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.auth.KeySpecs;
import dev.caravan.auth.KeyStore.StoredTeam;
import dev.caravan.auth.Role;
import dev.caravan.config.Budget;
import dev.caravan.config.ConfigHolder;
import dev.caravan.config.GatewayConfig;
import dev.caravan.config.KeyConfig;
import dev.caravan.config.Limits;
import dev.caravan.config.TeamConfig;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;

import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@code /admin/teams}: teams made, listed, changed and deleted at run time, with their budgets, limits, models and
 * regions. Teams from config/gateway.yaml are listed too and cannot be changed here (409). An admin reaches every
 * team; a team-admin sees its own and may lower (never raise) its budget and limits; a viewer none.
 */
public final class TeamsEndpoints {

    private static final Set<String> FIELDS = Set.of("id", "budget", "limits", "models", "regions", "metadata");
    private static final Set<String> PATCH_FIELDS = Set.of("budget", "limits", "models", "regions", "metadata");

    private final AdminStore store;
    private final ConfigHolder config;

    TeamsEndpoints(AdminStore store, ConfigHolder config) {
        this.store = store;
        this.config = config;
    }

    public static void register(AdminApi api, dev.caravan.auth.KeyDirectory directory,
                                dev.caravan.policy.audit.AuditLog audit, ConfigHolder config) {
        TeamsEndpoints teams = new TeamsEndpoints(new AdminStore(directory, audit), config);
        api.add("POST", "/admin/teams", teams::create)
                .add("GET", "/admin/teams", teams::list)
                .add("GET", "/admin/teams/{id}", teams::get)
                .add("PATCH", "/admin/teams/{id}", teams::update)
                .add("DELETE", "/admin/teams/{id}", teams::delete);
    }

    AdminReply create(AdminRequest request) throws SQLException {
        AdminScope.require(request, Role.ADMIN);
        BodyReader body = new BodyReader(request.objectBody(), FIELDS);
        String name = body.name("id");
        if (name == null) {
            throw BodyReader.bad("missing_field", "id", "'id' (the team's name) is required.");
        }
        GatewayConfig now = config.get();
        TeamConfig team = new TeamConfig(name, body.limits("limits"), body.budget("budget"),
                BodyReader.knownModels(now, body.names("models")), body.names("regions"), KeyConfig.API);
        Map<String, String> metadata = body.metadata("metadata");
        if (configTeam(now, name).isPresent()) {
            throw GatewayException.conflict("team_exists", "id", "A team '" + name + "' is defined in config/gateway.yaml.");
        }
        try {
            store.write(tx -> {
                if (store.directory().store().team(tx, name, false).isPresent()) {
                    throw GatewayException.conflict("team_exists", "id", "A team '" + name + "' exists already.");
                }
                store.directory().store().insertTeam(tx, team, metadata, System.currentTimeMillis());
                return team;
            }, t -> AdminStore.event(request, "team.create", "team:" + name, name, null, view(t, metadata, null)));
        } catch (SQLException e) {
            if ("23505".equals(e.getSQLState())) {
                throw GatewayException.conflict("team_exists", "id", "A team '" + name + "' exists already.");
            }
            throw e;
        }
        return AdminReply.created(view(team, metadata, new StoredTeam(team, metadata, Instant.now(), Instant.now())));
    }

    AdminReply list(AdminRequest request) throws SQLException {
        AdminScope.require(request, Role.TEAM_ADMIN);
        List<ObjectNode> rows = new ArrayList<>();
        configTeams(config.get()).stream().filter(t -> AdminScope.sees(request, t.name()))
                .forEach(t -> rows.add(view(t, Map.of(), null)));
        if (store.hasDatabase()) {
            for (StoredTeam t : store.read(c -> store.directory().store().teams(c))) {
                if (AdminScope.sees(request, t.team().name()) && configTeam(config.get(), t.team().name()).isEmpty()) {
                    rows.add(view(t.team(), t.metadata(), t));
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
        String name = request.pathParam("id");
        if (!AdminScope.sees(request, name)) {
            throw notFound(name);
        }
        Optional<TeamConfig> inConfig = configTeam(config.get(), name);
        if (inConfig.isPresent()) {
            return AdminReply.ok(view(inConfig.get(), Map.of(), null));
        }
        StoredTeam t = stored(name);
        return AdminReply.ok(view(t.team(), t.metadata(), t));
    }

    AdminReply update(AdminRequest request) throws SQLException {
        AdminScope.require(request, Role.TEAM_ADMIN);
        String name = request.pathParam("id");
        if (!AdminScope.sees(request, name)) {
            throw notFound(name);
        }
        refuseConfigTeam(name);
        BodyReader body = new BodyReader(request.objectBody(), PATCH_FIELDS);
        GatewayConfig now = config.get();
        StoredTeam before = stored(name);
        StoredTeam after = store.write(tx -> {
            StoredTeam current = store.directory().store().team(tx, name, true).orElseThrow(() -> notFound(name));
            TeamConfig t = current.team();
            TeamConfig next = new TeamConfig(name,
                    body.has("limits") ? body.limits("limits") : t.limits(),
                    body.has("budget") ? body.budget("budget") : t.budget(),
                    body.has("models") ? BodyReader.knownModels(now, body.names("models")) : t.models(),
                    body.has("regions") ? body.names("regions") : t.regions(), KeyConfig.API);
            if (request.role() != Role.ADMIN) {
                onlyLowers(body, t, next);
            }
            Map<String, String> metadata = body.has("metadata") ? body.metadata("metadata") : current.metadata();
            store.directory().store().updateTeam(tx, next, metadata, System.currentTimeMillis());
            return new StoredTeam(next, metadata, current.createdAt(), Instant.now());
        }, t -> AdminStore.event(request, "team.update", "team:" + name, name,
                view(before.team(), before.metadata(), before), view(t.team(), t.metadata(), t)));
        return AdminReply.ok(view(after.team(), after.metadata(), after));
    }

    AdminReply delete(AdminRequest request) throws SQLException {
        AdminScope.require(request, Role.ADMIN);
        String name = request.pathParam("id");
        refuseConfigTeam(name);
        StoredTeam before = stored(name);
        store.write(tx -> {
            int keys = store.directory().store().liveKeysOf(tx, name);
            if (keys > 0) {
                throw GatewayException.conflict("team_has_keys", null, "The team '" + name + "' still has " + keys
                        + " key(s); revoke them first.");
            }
            store.directory().store().deleteTeam(tx, name);
            return before;
        }, t -> AdminStore.event(request, "team.delete", "team:" + name, name, view(t.team(), t.metadata(), t), null));
        return AdminReply.ok(Json.object().put("object", "team.deleted").put("id", name).put("deleted", true));
    }

    /**
     * A team-admin may tighten its own team, never loosen it: a budget or limit only lowered (or set where there was
     * none), models and regions not changed.
     */
    private static void onlyLowers(BodyReader body, TeamConfig was, TeamConfig next) {
        if (body.has("models") || body.has("regions")) {
            throw raise(body.has("models") ? "models" : "regions", "A team-admin may not change its team's "
                    + (body.has("models") ? "models" : "regions") + ".");
        }
        if (!lower(was.limits().rpm(), next.limits().rpm()) || !lower(was.limits().tpm(), next.limits().tpm())) {
            throw raise("limits", "A team-admin may lower its team's limits, never raise or remove them.");
        }
        Budget a = was.budget();
        Budget b = next.budget();
        if (a != null && (b == null || b.limitNanos() > a.limitNanos() || !b.period().equals(a.period()))) {
            throw raise("budget", "A team-admin may lower its team's budget, never raise or remove it or change its period.");
        }
    }

    /** Whether {@code next} is no looser than {@code was} ({@link Limits#NONE_SET}: no limit). */
    private static boolean lower(long was, long next) {
        if (was == Limits.NONE_SET) {
            return true;
        }
        return next != Limits.NONE_SET && next <= was;
    }

    private static GatewayException raise(String param, String message) {
        return new GatewayException(403, "permission_error", "may_not_raise", param, message, Map.of());
    }

    private StoredTeam stored(String name) throws SQLException {
        return store.read(c -> store.directory().store().team(c, name, false)).orElseThrow(() -> notFound(name));
    }

    private void refuseConfigTeam(String name) {
        if (configTeam(config.get(), name).isPresent()) {
            throw GatewayException.conflict("team_in_config", null, "The team '" + name
                    + "' is defined in config/gateway.yaml: change it there (the admin API changes only teams it made).");
        }
    }

    private static GatewayException notFound(String name) {
        return KeysEndpoints.teamNotFound(name);
    }

    private static Optional<TeamConfig> configTeam(GatewayConfig now, String name) {
        return now.team(name).filter(t -> KeyConfig.CONFIG.equals(t.source()));
    }

    private static List<TeamConfig> configTeams(GatewayConfig now) {
        return now.teams().values().stream().filter(t -> KeyConfig.CONFIG.equals(t.source())).toList();
    }

    static ObjectNode view(TeamConfig t, Map<String, String> metadata, StoredTeam stored) {
        ObjectNode out = Json.object().put("object", "team").put("id", t.name());
        out.set("limits", KeySpecs.limits(t.limits()));
        out.set("budget", t.budget() == null ? out.nullNode() : KeySpecs.budget(t.budget()));
        BodyReader.putNames(out, "models", t.models());
        BodyReader.putNames(out, "regions", t.regions());
        ObjectNode md = out.putObject("metadata");
        metadata.forEach(md::put);
        out.put("source", t.source());
        out.put("created_at", stored == null ? null : stored.createdAt().toString());
        out.put("updated_at", stored == null ? null : stored.updatedAt().toString());
        return out;
    }
}
