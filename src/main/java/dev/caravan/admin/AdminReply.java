package dev.caravan.admin;

import com.fasterxml.jackson.databind.JsonNode;

/** An admin endpoint's answer: a status and a JSON body (errors are thrown as GatewayException instead). */
public record AdminReply(int status, JsonNode body) {

    public static AdminReply ok(JsonNode body) {
        return new AdminReply(200, body);
    }

    public static AdminReply created(JsonNode body) {
        return new AdminReply(201, body);
    }
}
