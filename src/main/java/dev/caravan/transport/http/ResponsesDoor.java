package dev.caravan.transport.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.ClientRequest;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.dialect.openai.RequestChecks;
import dev.caravan.dialect.openai.ResponseStore;
import dev.caravan.dialect.openai.ResponsesRequest;
import org.apache.camel.Exchange;

import java.util.List;
import java.util.Map;

/**
 * The Responses API's door: {@code POST /v1/responses} parsed into the canonical chat request (continuing a stored
 * response's conversation when {@code previous_response_id} names one), and {@code GET} / {@code DELETE
 * /v1/responses/{id}} on the stored responses, for the key that made them only (anyone else: 404).
 */
public final class ResponsesDoor {

    private static final String PREFIX = "/v1/responses/";

    private final Ingress ingress;
    private final ResponseStore store;

    public ResponsesDoor(Ingress ingress, ResponseStore store) {
        this.ingress = ingress;
        this.store = store;
    }

    public void parse(Exchange exchange) {
        ObjectNode body = ingress.parseModelRequest(exchange);
        GatewayException hosted = ResponsesRequest.hostedTool(body); // runs at OpenAI: the body passes through there
        JsonNode previousId = hosted == null ? body.get("previous_response_id") : null; // passed through: OpenAI's id
        List<JsonNode> previous = null;
        if (previousId != null && !previousId.isNull()) {
            if (!previousId.isTextual()) {
                throw RequestChecks.invalidType("previous_response_id", "a string", previousId);
            }
            previous = store.find(previousId.asText(), Responder.ownerOf(exchange))
                    .orElseThrow(() -> new GatewayException(404, "invalid_request_error", "previous_response_not_found",
                            "previous_response_id", "Previous response with id '" + GatewayException.quote(previousId.asText())
                            + "' not found (responses are kept " + "for a while, and only for the key that made them).",
                            Map.of()))
                    .conversation();
        }
        ObjectNode canonical = Json.object();
        ResponsesRequest.Context context = ResponsesRequest.toChat(body, canonical, previous);
        ingress.acceptChat(exchange, canonical);
        exchange.setProperty(ExchangeKeys.RESPONSES, context);
        if (hosted != null) {
            ingress.passThrough(exchange, dev.caravan.core.PassThrough.RESPONSES, body, canonical, hosted);
        }
    }

    /** {@code GET /v1/responses/{id}}: the stored response. */
    public void get(Exchange exchange) {
        String id = id(exchange);
        ResponseStore.Stored stored = store.find(id, Responder.ownerOf(exchange)).orElseThrow(() -> notFound(id));
        Responder.json(exchange, 200, stored.response());
    }

    /** {@code DELETE /v1/responses/{id}}. */
    public void delete(Exchange exchange) {
        String id = id(exchange);
        if (!store.delete(id, Responder.ownerOf(exchange))) {
            throw notFound(id);
        }
        Responder.json(exchange, 200, Json.object().put("id", id).put("object", "response").put("deleted", true));
    }

    /** GET or DELETE, answering 405 otherwise. */
    public void requireGetOrDelete(Exchange exchange) {
        String method = ClientRequest.of(exchange).method();
        if (!"GET".equals(method) && !"HEAD".equals(method) && !"DELETE".equals(method)) {
            throw GatewayException.methodNotAllowed(method, ClientRequest.of(exchange).path(), "GET, HEAD, DELETE, OPTIONS");
        }
    }

    private static String id(Exchange exchange) {
        String path = ClientRequest.of(exchange).path();
        String id = path.substring(PREFIX.length());
        if (id.isEmpty() || id.contains("/")) {
            throw GatewayException.notFound("not_found", "No endpoint " + GatewayException.quote(path) + ".");
        }
        return id;
    }

    private static GatewayException notFound(String id) {
        return GatewayException.notFound("not_found", "Response with id '" + GatewayException.quote(id) + "' not found.");
    }
}
