package dev.caravan.dialect.openai;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;

/** OpenAI's error body: {@code {"error":{"message","type","param","code"}}}. */
public final class OpenAiErrors {

    private OpenAiErrors() {
    }

    public static ObjectNode body(GatewayException e) {
        ObjectNode root = Json.object();
        ObjectNode error = root.putObject("error");
        error.put("message", e.getMessage());
        error.put("type", e.type());
        if (e.param() == null) {
            error.putNull("param");
        } else {
            error.put("param", e.param());
        }
        if (e.code() == null) {
            error.putNull("code");
        } else {
            error.put("code", e.code());
        }
        return root;
    }

    public static byte[] bytes(GatewayException e) {
        return Json.bytes(body(e));
    }

    /** For Netty's own bodiless answers (oversized body, unparseable request line, ...). */
    public static GatewayException forStatus(int status, long maxBody) {
        return switch (status) {
            case 413 -> GatewayException.payloadTooLarge(maxBody);
            case 400 -> GatewayException.badRequest("invalid_http_request", null, "The HTTP request could not be parsed.");
            case 404 -> GatewayException.notFound("not_found", "No such endpoint.");
            case 405 -> new GatewayException(405, "invalid_request_error", "method_not_allowed", "Method not allowed.");
            case 503 -> GatewayException.unavailable("unavailable", "The gateway is not accepting requests right now.");
            default -> new GatewayException(status, status >= 500 ? "api_error" : "invalid_request_error", null,
                    "HTTP " + status);
        };
    }
}
