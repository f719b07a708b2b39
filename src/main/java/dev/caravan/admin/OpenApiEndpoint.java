package dev.caravan.admin;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.auth.Role;
import dev.caravan.core.Json;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * {@code GET /admin/openapi.json}: the OpenAPI 3.1 description of the admin API (caravan/admin-openapi.json on the
 * classpath, read once at start), for role viewer and above. OpenApiDocumentTest holds it to the real answers.
 */
public final class OpenApiEndpoint {

    static final String RESOURCE = "/caravan/admin-openapi.json";

    private final JsonNode document;

    private OpenApiEndpoint(JsonNode document) {
        this.document = document;
    }

    public static void register(AdminApi api) {
        OpenApiEndpoint endpoint = new OpenApiEndpoint(read());
        api.add("GET", "/admin/openapi.json", endpoint::show);
    }

    AdminReply show(AdminRequest request) {
        AdminScope.require(request, Role.VIEWER);
        return AdminReply.ok(document);
    }

    /** The document as shipped; a build without it cannot start (the admin API would describe nothing). */
    static JsonNode read() {
        try (InputStream in = OpenApiEndpoint.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing from the classpath");
            }
            return Json.MAPPER.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
