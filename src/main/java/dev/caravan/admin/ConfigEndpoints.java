package dev.caravan.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.auth.Role;
import dev.caravan.config.ConfigHolder;
import dev.caravan.config.GatewayConfig;
import dev.caravan.config.KeyConfig;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;

import java.util.Iterator;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * {@code GET /admin/config}: the running config/gateway.yaml as JSON, every secret shown as its {@code ${env:...}}
 * or {@code ${file:...}} reference and every key hash hidden; {@code POST /admin/config/reload}: loads the file now
 * (as an edit would with hot reload on), answering why when it is refused (the running config stays). Admin only.
 */
public final class ConfigEndpoints {

    /** Reloads the config file: null when it applied, else why it was refused. */
    @FunctionalInterface
    public interface Reload {
        String reload();
    }

    private static final Pattern SECRET_FIELD = Pattern.compile("(?i).*(apikey|password|secret|token|sha256|authorization).*");
    private static final Pattern REFERENCE = Pattern.compile("^\\$\\{(env|file):[^}]+}$");

    private final ConfigHolder config;
    private final Reload reload;

    ConfigEndpoints(ConfigHolder config, Reload reload) {
        this.config = config;
        this.reload = reload;
    }

    public static void register(AdminApi api, ConfigHolder config, Reload reload) {
        ConfigEndpoints endpoints = new ConfigEndpoints(config, reload);
        api.add("GET", "/admin/config", endpoints::show)
                .add("POST", "/admin/config/reload", endpoints::reload);
    }

    AdminReply show(AdminRequest request) {
        AdminScope.require(request, Role.ADMIN);
        GatewayConfig file = config.file();
        ObjectNode answer = Json.object().put("object", "config");
        JsonNode document = file.document();
        answer.set("config", document == null ? Json.object() : hideSecrets(document.deepCopy()));
        GatewayConfig live = config.get();
        ObjectNode runtime = answer.putObject("runtime");
        runtime.put("keys", live.keysBySha256().values().stream().filter(k -> KeyConfig.API.equals(k.source()))
                .map(KeyConfig::id).distinct().count());
        runtime.put("teams", live.teams().values().stream().filter(t -> KeyConfig.API.equals(t.source())).count());
        answer.put("last_reload", config.lastReload());
        return AdminReply.ok(answer);
    }

    AdminReply reload(AdminRequest request) {
        AdminScope.require(request, Role.ADMIN);
        String refused = reload.reload();
        if (refused != null) {
            throw GatewayException.badRequest("config_invalid", null,
                    "The config was refused; the previous config keeps serving. " + refused);
        }
        GatewayConfig now = config.file();
        return AdminReply.ok(Json.object().put("object", "config.reload").put("applied", true)
                .put("models", now.models().size()).put("providers", now.providers().size())
                .put("keys", now.keysBySha256().size()));
    }

    /** Any string under a secret-sounding field that is not a reference becomes {@code ***}. */
    static JsonNode hideSecrets(JsonNode node) {
        if (node instanceof ObjectNode object) {
            for (Iterator<Map.Entry<String, JsonNode>> it = object.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode value = e.getValue();
                if (value.isTextual() && SECRET_FIELD.matcher(e.getKey()).matches()
                        && !REFERENCE.matcher(value.asText()).matches()) {
                    e.setValue(Json.MAPPER.getNodeFactory().textNode("***"));
                } else {
                    hideSecrets(value);
                }
            }
        } else if (node instanceof ArrayNode array) {
            array.forEach(ConfigEndpoints::hideSecrets);
        }
        return node;
    }
}
