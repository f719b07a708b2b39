package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.config.DeploymentConfig;

import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.regex.Pattern;

/**
 * Maps an upstream failure to what the client sees. The upstream's own words pass through, with anything that
 * looks like a credential removed; a failure of the deployment itself (its credential refused, its server down)
 * is the gateway's 5xx, never the caller's 4xx.
 */
public final class UpstreamErrors {

    // OpenAI- and Anthropic-style keys (sk-, sk-ant-), Google API keys (AIza), bearer tokens, and "key=..." echoes that some providers put in error messages
    private static final Pattern CREDENTIAL = Pattern.compile(
            "(sk-[A-Za-z0-9_*.-]{6,}|AIza[A-Za-z0-9_-]{20,}|(?i:bearer)\\s+[A-Za-z0-9_*.=-]+|(?i:api[-_]?key)[\"']?\\s*[:=]\\s*[\"']?[A-Za-z0-9_*.-]+)");

    private UpstreamErrors() {
    }

    public static GatewayException fromStatus(DeploymentConfig deployment, int status, byte[] body, Map<String, String> headers) {
        ObjectNode parsed = Json.parseObjectOrNull(body);
        JsonNode error = parsed == null ? null : parsed.get("error");
        String upstreamMessage = null;
        String type = null;
        String code = null;
        String param = null;
        if (error != null && error.isObject()) {
            upstreamMessage = text(error, "message");
            type = text(error, "type");
            code = text(error, "code");
            param = text(error, "param");
            if (error.path("code").isNumber()) {
                // Gemini (Google APIs): a numeric code, the meaning in "status" (INVALID_ARGUMENT, RESOURCE_EXHAUSTED)
                code = error.path("status").isTextual() ? error.path("status").asText().toLowerCase(java.util.Locale.ROOT) : null;
            }
        } else if (error != null && error.isTextual()) {
            upstreamMessage = error.asText(); // Ollama
        } else if (parsed != null && parsed.hasNonNull("message")) {
            // Mistral and vLLM: the error at the top level, {"object":"error","message",...}; Mistral's 422 message
            // may be an object of validation details
            JsonNode m = parsed.get("message");
            upstreamMessage = m.isTextual() ? m.asText() : validationDetails(m);
            type = text(parsed, "type");
            code = parsed.path("code").isTextual() ? parsed.get("code").asText() : null;
            param = text(parsed, "param");
        }
        // clients switch on OpenAI's words; a provider's own ("rate_limited", "1300", "BadRequestError") stays in the message
        type = type != null && OPENAI_TYPE.matcher(type).matches() ? type : null;
        code = code != null && OPENAI_CODE.matcher(code).matches() ? code : null;
        String message = redact(upstreamMessage == null ? "HTTP " + status : upstreamMessage, deployment);
        Map<String, String> extra = new HashMap<>();
        String retryAfter = headers.get("retry-after");
        if (retryAfter != null) {
            extra.put("Retry-After", retryAfter);
        }
        String where = "Deployment '" + deployment.id() + "' answered HTTP " + status + ": ";
        if (status == 400 && credentialRefused(error)) {
            status = 401; // Google answers a wrong or expired API key with 400 INVALID_ARGUMENT
        }
        if (status == 401 || status == 403) {
            return new GatewayException(502, "api_error", "upstream_auth_failed", null,
                    where + message + " (the provider credential was refused)", Map.of());
        }
        if (status == 404) {
            return new GatewayException(502, "api_error", "upstream_not_found", null, where + message, Map.of());
        }
        if (status == 408) {
            return GatewayException.gatewayTimeout(where + message);
        }
        if (status == 429) {
            return new GatewayException(429, type != null ? type : "rate_limit_error",
                    code != null ? code : "rate_limit_exceeded", null, message, extra);
        }
        if (status == 503 || status == 529) {
            return new GatewayException(503, "api_error", "upstream_unavailable", null, where + message, extra);
        }
        if (status == 504) {
            return GatewayException.gatewayTimeout(where + message);
        }
        if (status >= 500) {
            return new GatewayException(502, "api_error", "upstream_error", null, where + message, Map.of());
        }
        if ((status == 400 || status == 413 || status == 422) && isContextLength(code, message)) {
            // every provider words it differently; one code lets the call step use the model's contextWindowFallbacks
            return new GatewayException(400, "invalid_request_error", "context_length_exceeded",
                    param != null ? param : "messages", message, Map.of());
        }
        if (status >= 400) {
            // caused by the request itself: the caller gets the provider's own words and status
            return new GatewayException(status, type != null ? type : "invalid_request_error", code, param, message, Map.of());
        }
        return new GatewayException(502, "api_error", "upstream_bad_response", null,
                where + "unexpected status", Map.of());
    }

    /** Google's {@code error.details[].reason} API_KEY_INVALID / API_KEY_EXPIRED: the deployment's key, not the request. */
    static boolean credentialRefused(JsonNode error) {
        if (error == null) {
            return false;
        }
        for (JsonNode detail : error.path("details")) {
            String reason = detail.path("reason").asText("");
            if (reason.equals("API_KEY_INVALID") || reason.equals("API_KEY_EXPIRED")) {
                return true;
            }
        }
        return false;
    }

    private static final Pattern OPENAI_TYPE = Pattern.compile("^[a-z]+(_[a-z]+)*_error$");
    private static final Pattern OPENAI_CODE = Pattern.compile("^[a-z][a-z0-9_]*$");

    /** Mistral's 422: {"detail":[{"loc":["body","x"],"msg":"..","input":..}]} read as "body.x: .." (the input is not echoed). */
    static String validationDetails(JsonNode message) {
        JsonNode detail = message.path("detail");
        if (!detail.isArray() || detail.isEmpty()) {
            return message.toString();
        }
        java.util.List<String> parts = new java.util.ArrayList<>();
        for (JsonNode d : detail) {
            java.util.List<String> loc = new java.util.ArrayList<>();
            d.path("loc").forEach(l -> loc.add(l.asText()));
            parts.add(String.join(".", loc) + ": " + d.path("msg").asText("invalid"));
        }
        return String.join("; ", parts);
    }

    /**
     * A context-window overflow, as OpenAI and Azure code it or as Anthropic ("prompt is too long"), Gemini
     * ("exceeds the maximum number of tokens allowed"), Mistral ("too large for model with N maximum context length")
     * and vLLM ("maximum context length is") word it.
     */
    static boolean isContextLength(String code, String message) {
        return "context_length_exceeded".equals(code) || (message != null && CONTEXT_LENGTH.matcher(message).find());
    }

    private static final Pattern CONTEXT_LENGTH = Pattern.compile(
            "(?i)(context[ _-]?(length|window|limit)|prompt is too long|maximum number of tokens allowed|too large for model)");

    /** The HTTP status an error type stands for, for errors that arrive as an event inside a 200 stream. */
    public static int statusOfType(String type) {
        if (type == null) {
            return 500;
        }
        return switch (type) {
            case "invalid_request_error" -> 400;
            case "authentication_error" -> 401;
            case "permission_error" -> 403;
            case "not_found_error" -> 404;
            case "request_too_large" -> 413;
            case "rate_limit_error" -> 429;
            case "overloaded_error" -> 529;
            default -> 500;
        };
    }

    /** Maps a transport failure: timeout before the first byte, refused or reset connection. */
    public static GatewayException fromThrowable(DeploymentConfig deployment, Throwable t) {
        Throwable cause = unwrap(t);
        if (cause instanceof GatewayException g) {
            return g;
        }
        String who = "Deployment '" + deployment.id() + "'";
        if (cause instanceof HttpTimeoutException) {
            return GatewayException.gatewayTimeout(who + " did not answer in time.");
        }
        if (cause instanceof ConnectException || cause instanceof UnresolvedAddressException) {
            return GatewayException.badGateway("upstream_unreachable", who + " is unreachable (connection failed).");
        }
        if (cause instanceof IOException) {
            return GatewayException.badGateway("upstream_connection_error",
                    who + " closed the connection before answering.");
        }
        if (cause instanceof CancellationException) {
            return GatewayException.badGateway("upstream_cancelled", who + " call was cancelled.");
        }
        return GatewayException.badGateway("upstream_error", who + " failed: " + cause.getClass().getSimpleName());
    }

    public static GatewayException garbage(DeploymentConfig deployment, String what) {
        return GatewayException.badGateway("upstream_bad_response",
                "Deployment '" + deployment.id() + "' answered with " + what + ".");
    }

    public static GatewayException badGatewayMidStream(DeploymentConfig deployment) {
        return GatewayException.badGateway("upstream_stream_broken",
                "Deployment '" + deployment.id() + "' ended its stream before it finished.");
    }

    public static String redact(String text, DeploymentConfig deployment) {
        String out = text;
        String key = deployment.provider().apiKey();
        if (key != null && key.length() >= 4) {
            out = out.replace(key, "[redacted]");
        }
        return CREDENTIAL.matcher(out).replaceAll("[redacted]");
    }

    static Throwable unwrap(Throwable t) {
        Throwable c = t;
        while ((c instanceof CompletionException || c instanceof ExecutionException) && c.getCause() != null) {
            c = c.getCause();
        }
        return c;
    }

    private static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }
}
