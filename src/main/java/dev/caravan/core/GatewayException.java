package dev.caravan.core;

import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;

/**
 * Every error a client can see: an HTTP status with an OpenAI-style type and code. One {@code onException} in the
 * ingress renders it in the caller's native shape; anything else thrown is an internal error.
 */
public class GatewayException extends RuntimeException {

    private final int status;
    private final String type;
    private final String code;
    private final String param;
    private final Map<String, String> headers;

    public GatewayException(int status, String type, String code, String param, String message, Map<String, String> headers) {
        super(message, null, false, false); // no stack trace: these are answers, not bugs
        this.status = status;
        this.type = type;
        this.code = code;
        this.param = param;
        this.headers = Map.copyOf(headers);
    }

    public GatewayException(int status, String type, String code, String message) {
        this(status, type, code, null, message, Map.of());
    }

    public int status() { return status; }
    public String type() { return type; }
    public String code() { return code; }
    public String param() { return param; }
    /** Extra response headers, such as Retry-After. */
    public Map<String, String> headers() { return headers; }

    /** Longest client-supplied text an error message quotes, in code points; the rest is cut to "...". */
    public static final int MAX_QUOTED = 64;

    /**
     * Client-supplied text (a model name, a path, a content type) as an error message may quote it: control and
     * format characters (newlines, escapes, bidi overrides) dropped, cut to {@value #MAX_QUOTED} code points.
     */
    public static String quote(String clientText) {
        if (clientText == null) {
            return "";
        }
        StringBuilder out = new StringBuilder(Math.min(clientText.length(), MAX_QUOTED + 3));
        int kept = 0;
        for (int i = 0; i < clientText.length(); ) {
            int cp = clientText.codePointAt(i);
            i += Character.charCount(cp);
            int type = Character.getType(cp);
            if (type == Character.CONTROL || type == Character.FORMAT || type == Character.LINE_SEPARATOR
                    || type == Character.PARAGRAPH_SEPARATOR || type == Character.SURROGATE || type == Character.UNASSIGNED) {
                continue;
            }
            if (kept == MAX_QUOTED) {
                return out.append("...").toString();
            }
            out.appendCodePoint(cp);
            kept++;
        }
        return out.toString();
    }

    public static GatewayException badRequest(String code, String param, String message) {
        return new GatewayException(400, "invalid_request_error", code, param, message, Map.of());
    }

    public static GatewayException unauthorized(String message) {
        return new GatewayException(401, "invalid_request_error", "invalid_api_key", message);
    }

    public static GatewayException forbidden(String code, String message) {
        return new GatewayException(403, "permission_error", code, message);
    }

    public static GatewayException notFound(String code, String message) {
        return new GatewayException(404, "invalid_request_error", code, message);
    }

    public static GatewayException conflict(String code, String param, String message) {
        return new GatewayException(409, "invalid_request_error", code, param, message, Map.of());
    }

    public static GatewayException modelNotFound(String model) {
        return new GatewayException(404, "invalid_request_error", "model_not_found", "model",
                "The model '" + quote(model) + "' does not exist or is not served by this gateway.", Map.of());
    }

    public static GatewayException methodNotAllowed(String method, String path, String allowed) {
        return new GatewayException(405, "invalid_request_error", "method_not_allowed", null,
                "Method " + quote(method) + " is not allowed on " + quote(path) + "; use " + allowed + ".",
                Map.of("Allow", allowed));
    }

    public static GatewayException payloadTooLarge(long limit) {
        return new GatewayException(413, "invalid_request_error", "request_too_large",
                "The request body is larger than the limit of " + limit + " bytes.");
    }

    public static GatewayException unsupportedMediaType(String contentType) {
        return new GatewayException(415, "invalid_request_error", "unsupported_media_type",
                "Content-Type '" + quote(contentType) + "' is not supported; send application/json.");
    }

    public static GatewayException badGateway(String code, String message) {
        return new GatewayException(502, "api_error", code, message);
    }

    public static GatewayException gatewayTimeout(String message) {
        return new GatewayException(504, "api_error", "upstream_timeout", message);
    }

    public static GatewayException unavailable(String code, String message) {
        return new GatewayException(503, "api_error", code, message);
    }

    // requests a translator failed on: one line each (see untranslatable)
    private static final Logger TRANSLATION_LOG = LoggerFactory.getLogger(GatewayException.class);

    /**
     * A translator's unexpected failure (ClassCastException, NullPointerException, IllegalArgumentException...) on
     * the client's request: the input is what no deployment can take, so it answers 400 at once instead of being
     * retried and ending as a 500. One log line, class and frame, no message (it may quote the request): enough for
     * the operator to find a gateway bug, too little for a client to flood the log with stack traces.
     */
    public static GatewayException untranslatable(Exchange exchange, RuntimeException e) {
        String requestId = exchange.getProperty(ExchangeKeys.REQUEST_ID, String.class);
        StackTraceElement[] frames = e.getStackTrace();
        TRANSLATION_LOG.warn("Request {} could not be translated ({} at {}); answered 400", requestId, e.getClass().getName(),
                frames.length == 0 ? "unknown" : frames[0]);
        return badRequest("invalid_request", null, "The request could not be translated for the "
                + "provider: a field has a type or value the gateway cannot handle (request id " + requestId + ").");
    }

    /** An unexpected exception of the gateway's own code (not Camel's, not an answer): a translator's, on bad input. */
    public static boolean isTranslationFailure(Throwable t) {
        return t instanceof RuntimeException && !(t instanceof GatewayException)
                && !(t instanceof org.apache.camel.RuntimeCamelException);
    }
}
