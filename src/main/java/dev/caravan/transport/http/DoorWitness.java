package dev.caravan.transport.http;

/**
 * Hears of each request the listener answers by itself, without a route (unparseable HTTP, a framing it refuses, a
 * method no endpoint has): observability counts and logs it like any other refusal at the door.
 */
@FunctionalInterface
public interface DoorWitness {

    DoorWitness NONE = (requestId, method, path, client, userAgent, status, code) -> { };

    /** {@code method}, {@code path} and {@code userAgent} may be null when the request could not be read. */
    void refused(String requestId, String method, String path, String client, String userAgent, int status, String code);
}
