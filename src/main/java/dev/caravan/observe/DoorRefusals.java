package dev.caravan.observe;

import dev.caravan.transport.http.DoorWitness;

import java.util.List;

/**
 * Refusals at the door: requests answered before any model was called because of the request's shape, its key or
 * the gateway's state (413, 401, 503 overloaded or shutting down, 405, 404 for a path, unparseable HTTP). Counted in
 * {@code caravan_door_refusals_total{reason}} and written to the access log, whether a route answered them (the
 * record route) or the listener did without one ({@link DoorWitness}).
 */
public final class DoorRefusals implements DoorWitness {

    /** The metric's reason label: a closed list. */
    public static final List<String> REASONS = List.of("too_large", "unauthenticated", "overloaded", "shutting_down",
            "method_not_allowed", "not_found", "bad_http", "other");

    private final GatewayMetrics metrics;
    private final AccessLog accessLog;

    public DoorRefusals(GatewayMetrics metrics, AccessLog accessLog) {
        this.metrics = metrics;
        this.accessLog = accessLog;
    }

    /** The reason a request's answer counts as a door refusal, or null when it is none. */
    static String reason(RequestFacts f) {
        if (f.errorCode() == null) {
            return null;
        }
        return switch (f.errorCode()) {
            case "request_too_large" -> f.status() == 413 ? "too_large" : null;
            case "invalid_api_key" -> "unauthenticated";
            case "overloaded" -> "overloaded";
            case "shutting_down" -> "shutting_down";
            case "method_not_allowed" -> "method_not_allowed";
            // the admin API answers not_found for a key or team that does not exist: that is an answer, not the door
            case "not_found" -> "admin".equals(f.endpoint()) ? null : "not_found";
            case "invalid_http_request", "unsupported_transfer_encoding" -> "bad_http";
            default -> null;
        };
    }

    /** The reason for an answer the listener wrote itself, from its status and code. */
    static String reason(int status, String code) {
        String known = code == null ? null : switch (code) {
            case "request_too_large" -> "too_large";
            case "method_not_allowed" -> "method_not_allowed";
            case "not_found" -> "not_found";
            case "invalid_http_request", "unsupported_transfer_encoding" -> "bad_http";
            case "overloaded", "unavailable" -> "overloaded";
            default -> null;
        };
        if (known != null) {
            return known;
        }
        return switch (status) {
            case 413 -> "too_large";
            case 405 -> "method_not_allowed";
            case 400, 431 -> "bad_http";
            default -> "other";
        };
    }

    @Override
    public void refused(String requestId, String method, String path, String client, String userAgent, int status,
                        String code) {
        metrics.doorRefused(reason(status, code));
        accessLog.writeDoorRefusal(requestId, method, path, client, userAgent, status, code);
    }
}
