package dev.caravan.transport.http;

import dev.caravan.config.ConfigLoader;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.function.Function;

/**
 * What the API listener allows a connection before and while it is answered (config/application.properties).
 *
 * @param headerTimeout        from connect, or from a request's first byte, to the end of its headers
 * @param bodyTimeout          longest pause between body bytes while a body is owed
 * @param idleTimeout          longest wait for the next request on a kept-alive connection with no answer in progress
 * @param maxConnections       open connections past which new ones are closed at once
 * @param maxBodyBytes         largest request body
 * @param maxBodyBytesInFlight request bodies held at once, all connections together
 */
public record ListenerLimits(Duration headerTimeout, Duration bodyTimeout, Duration idleTimeout, int maxConnections,
                             long maxBodyBytes, long maxBodyBytesInFlight) {

    /**
     * Reads the {@code caravan.*} listener settings. The connection cap is lowered to what the process's file
     * descriptor limit can hold (each client connection may hold one upstream connection, and some are kept for
     * files and the management port); the body budget defaults to an eighth of the heap (a body in flight costs about
     * five to seven times its size in heap while it is parsed and sent on: measured), and never below one largest body.
     */
    public static ListenerLimits read(Function<String, String> property) {
        long maxBody = Long.parseLong(or(property.apply("caravan.maxBodyBytes"), "33554432"));
        String budget = or(property.apply("caravan.maxBodyBytesInFlight"), "auto");
        long inFlight = "auto".equals(budget.trim())
                ? Math.max(maxBody, Runtime.getRuntime().maxMemory() / 8) : Long.parseLong(budget.trim());
        int maxConnections = Integer.parseInt(or(property.apply("caravan.maxConnections"), "10000").trim());
        long fds = maxFileDescriptors();
        if (fds > 0) {
            maxConnections = (int) Math.max(1, Math.min(maxConnections, (fds - 1024) / 2));
        }
        return new ListenerLimits(
                ConfigLoader.parseDuration(or(property.apply("caravan.headerTimeout"), "10s")),
                ConfigLoader.parseDuration(or(property.apply("caravan.bodyTimeout"), "30s")),
                ConfigLoader.parseDuration(or(property.apply("caravan.idleTimeout"), "60s")),
                maxConnections, maxBody, inFlight);
    }

    private static String or(String value, String fallback) {
        return value == null || value.isBlank() ? fallback : value;
    }

    /** The process's open-file limit, or -1 where the JVM does not tell. */
    private static long maxFileDescriptors() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
            return unix.getMaxFileDescriptorCount();
        }
        return -1;
    }
}
