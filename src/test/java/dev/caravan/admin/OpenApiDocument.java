package dev.caravan.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.networknt.schema.JsonMetaSchema;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.NonValidationKeyword;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaValidatorsConfig;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import com.networknt.schema.oas.OpenApi31;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * An OpenAPI 3.1 document as a test reads it: which operation a call is, which statuses that operation documents,
 * and whether an answer's body is valid against the schema documented for its status.
 *
 * <p>Refs resolve the way the document itself means them: the validator is given the whole document under a base
 * URI and each response schema by a JSON pointer into it
 * ({@code .../admin-openapi.json#/paths/~1admin~1keys/post/responses/201/content/application~1json/schema}), so
 * {@code $ref: "#/components/schemas/Key"} inside it resolves against the document's root. Schemas are read in
 * OpenAPI 3.1's dialect (JSON Schema 2020-12 with OpenAPI's keywords), with {@code format} asserted.
 */
final class OpenApiDocument {

    static final String BASE = "https://caravan.dev/admin-openapi.json";
    static final List<String> METHODS = List.of("get", "put", "post", "delete", "options", "head", "patch", "trace");

    /** One documented operation: {@code GET /admin/keys/{id}}. */
    record Operation(String method, String template, JsonNode node) {
        @Override
        public String toString() {
            return method + " " + template;
        }
    }

    private final JsonNode document;
    private final JsonSchemaFactory factory;
    private final SchemaValidatorsConfig config = SchemaValidatorsConfig.builder().formatAssertionsEnabled(true).build();
    private final Map<String, JsonSchema> schemas = new ConcurrentHashMap<>();

    OpenApiDocument(JsonNode document) {
        this.document = document;
        String text = document.toString();
        // the document's root is read as a schema too (refs resolve against it): its OpenAPI fields are no keywords
        JsonMetaSchema dialect = JsonMetaSchema.builder(OpenApi31.getInstance()).keywords(Stream.of("openapi", "info",
                "jsonSchemaDialect", "servers", "paths", "webhooks", "components", "security", "tags", "externalDocs")
                .map(NonValidationKeyword::new).toList()).build();
        factory = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012, b -> b
                .metaSchema(dialect).defaultMetaSchemaIri(dialect.getIri())
                .schemaLoaders(loaders -> loaders.schemas(Map.of(BASE, text))));
    }

    /** Every operation under {@code paths}, in the document's order. */
    List<Operation> operations() {
        List<Operation> out = new ArrayList<>();
        document.path("paths").fields().forEachRemaining(path -> path.getValue().fields().forEachRemaining(op -> {
            if (METHODS.contains(op.getKey())) {
                out.add(new Operation(op.getKey().toUpperCase(), path.getKey(), op.getValue()));
            }
        }));
        return out;
    }

    /** The operation a call is, by its method and path (a query is ignored); a literal segment beats a {param}. */
    Optional<Operation> operation(String method, String pathAndQuery) {
        String[] segments = pathAndQuery.split("\\?", 2)[0].split("/", -1);
        return operations().stream()
                .filter(op -> op.method().equals(method) && matches(op.template().split("/", -1), segments))
                .min(Comparator.comparingLong(op -> op.template().chars().filter(c -> c == '{').count()));
    }

    private static boolean matches(String[] template, String[] segments) {
        if (template.length != segments.length) {
            return false;
        }
        for (int i = 0; i < template.length; i++) {
            boolean param = template[i].startsWith("{") && template[i].endsWith("}");
            if (param ? segments[i].isEmpty() : !template[i].equals(segments[i])) {
                return false;
            }
        }
        return true;
    }

    /** The statuses {@code op} documents ({@code "200"}, {@code "404"}, ...). */
    Set<String> statuses(Operation op) {
        Set<String> out = new TreeSet<>();
        op.node().path("responses").fieldNames().forEachRemaining(out::add);
        return out;
    }

    /**
     * Why {@code body} is not what {@code op} documents for {@code status}: the status undocumented, no JSON schema
     * for it, or each schema violation; empty when it is.
     */
    List<String> problems(Operation op, int status, JsonNode body) {
        String pointer = "/paths/" + escape(op.template()) + "/" + op.method().toLowerCase() + "/responses/" + status;
        JsonNode response = document.at(pointer);
        if (response.isMissingNode()) {
            return List.of(op + " does not document status " + status + " (it documents " + statuses(op) + ")");
        }
        if (response.has("$ref")) { // an OpenAPI reference to components/responses, within this document
            pointer = response.get("$ref").asText().substring(1);
        }
        pointer += "/content/application~1json/schema";
        if (document.at(pointer).isMissingNode()) {
            return List.of(op + " documents status " + status + " without a JSON schema");
        }
        return validate(pointer, body);
    }

    /**
     * Why {@code body} is not a request body {@code op} documents; empty when it is, or when {@code op} takes none.
     */
    List<String> requestProblems(Operation op, JsonNode body) {
        String pointer = "/paths/" + escape(op.template()) + "/" + op.method().toLowerCase()
                + "/requestBody/content/application~1json/schema";
        if (document.at(pointer).isMissingNode()) {
            return List.of();
        }
        return validate(pointer, body);
    }

    private List<String> validate(String pointer, JsonNode body) {
        JsonSchema schema = schemas.computeIfAbsent(pointer, p -> factory.getSchema(SchemaLocation.of(BASE + "#" + p), config));
        return schema.validate(body).stream().map(ValidationMessage::getMessage).sorted().toList();
    }

    /** A path as one JSON-pointer token: {@code /admin/keys} is {@code ~1admin~1keys}. */
    static String escape(String token) {
        return token.replace("~", "~0").replace("/", "~1");
    }
}
