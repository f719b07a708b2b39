package dev.caravan.admin;

/**
 * One admin operation. Runs on the admin thread pool, so it may block on the database; it throws
 * {@code GatewayException} for the caller's mistakes (400, 403, 404, 409), rendered in the OpenAI error shape.
 */
@FunctionalInterface
public interface AdminEndpoint {
    AdminReply handle(AdminRequest request) throws Exception;
}
