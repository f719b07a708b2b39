package dev.caravan.dialect.anthropic;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;

/** Anthropic's error body, for {@code /v1/messages}: {@code {"type":"error","error":{"type","message"}}}. */
public final class AnthropicErrors {

    private AnthropicErrors() {
    }

    public static ObjectNode body(GatewayException e) {
        ObjectNode root = Json.object().put("type", "error");
        root.putObject("error").put("type", type(e.status())).put("message", e.getMessage());
        return root;
    }

    public static byte[] bytes(GatewayException e) {
        return Json.bytes(body(e));
    }

    /** Anthropic names errors by status; a gateway's 502/504 is Anthropic's api_error, an unavailable one overloaded. */
    static String type(int status) {
        return switch (status) {
            case 400, 405, 415, 422 -> "invalid_request_error";
            case 401 -> "authentication_error";
            case 402, 403 -> "permission_error";
            case 404 -> "not_found_error";
            case 413 -> "request_too_large";
            case 429 -> "rate_limit_error";
            case 503, 529 -> "overloaded_error";
            default -> "api_error";
        };
    }
}
