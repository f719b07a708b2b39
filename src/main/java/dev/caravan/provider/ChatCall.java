package dev.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.DeploymentConfig;

import java.time.Duration;
import java.util.Map;

/**
 * One attempt at one deployment.
 *
 * @param body           the canonical (OpenAI chat) request, without Caravan's own controls, or for a request passed
 *                       through ({@link Provider#passThrough}) the client's own body; adapters copy it, never change it
 * @param forwardHeaders the client headers on the allow-list, lower-case names
 * @param timeout        until the first response byte
 */
public record ChatCall(String requestId, DeploymentConfig deployment, ObjectNode body,
                       Map<String, String> forwardHeaders, Duration timeout) {

    public boolean clientWantsStreamUsage() {
        return body.path("stream_options").path("include_usage").asBoolean(false);
    }
}
