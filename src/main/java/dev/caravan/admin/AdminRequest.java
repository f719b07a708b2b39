package dev.caravan.admin;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.auth.Principal;
import dev.caravan.auth.Role;
import dev.caravan.core.GatewayException;

import java.util.List;
import java.util.Map;

/**
 * One call to the admin API as its endpoints see it: parsed, authenticated, and on the admin thread pool (an
 * endpoint may use JDBC; it never runs on an event loop).
 *
 * @param method     the HTTP method
 * @param path       the path without its query ({@code /admin/keys/k1/rotate})
 * @param pathParams the {@code {name}} parts of the endpoint's pattern, by name
 * @param query      the query's parameters (decoded)
 * @param body       the JSON body, or null when none was sent
 * @param principal  who is calling (role viewer, team-admin or admin: a user never gets here)
 * @param requestId  the gateway's request id (the audit row names it)
 * @param source     the caller's address
 */
public record AdminRequest(String method, String path, Map<String, String> pathParams,
                           Map<String, List<String>> query, JsonNode body, Principal principal, String requestId,
                           String source) {

    public String pathParam(String name) {
        return pathParams.get(name);
    }

    /** A query parameter given at most once; null when absent or empty; 400 naming it when repeated. */
    public String param(String name) {
        return single(query, name);
    }

    /** The one value of {@code name} in decoded query parameters; null when absent or empty; 400 when repeated. */
    public static String single(Map<String, List<String>> query, String name) {
        List<String> values = query.get(name);
        if (values == null || values.isEmpty() || values.get(0).isBlank()) {
            return null;
        }
        if (values.size() > 1) {
            throw GatewayException.badRequest("invalid_request", name, "Give " + name + " at most once.");
        }
        return values.get(0);
    }

    public Role role() {
        return principal.roleKind();
    }

    /** The body as a JSON object; 400 when it is missing or not an object. */
    public com.fasterxml.jackson.databind.node.ObjectNode objectBody() {
        if (body == null || !body.isObject()) {
            throw GatewayException.badRequest("invalid_request", null, "The body must be a JSON object.");
        }
        return (com.fasterxml.jackson.databind.node.ObjectNode) body;
    }
}
