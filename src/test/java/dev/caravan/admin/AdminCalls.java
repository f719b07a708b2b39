package dev.caravan.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.caravan.TestGateway;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

/** The admin API through plain HTTP, as curl would call it: a method, a path, a JSON body, a bearer key. */
record AdminCalls(TestGateway gateway, String key) {

    static final ObjectMapper JSON = new ObjectMapper();

    record Answer(int status, JsonNode body) {
        String text(String field) {
            return body.path(field).asText(null);
        }

        JsonNode error() {
            return body.path("error");
        }
    }

    Answer get(String path) {
        return call("GET", path, null);
    }

    Answer post(String path, String json) {
        return call("POST", path, json);
    }

    Answer patch(String path, String json) {
        return call("PATCH", path, json);
    }

    Answer delete(String path) {
        return call("DELETE", path, null);
    }

    Answer call(String method, String path, String json) {
        HttpRequest.Builder b = gateway.request(path, "Authorization", "Bearer " + key);
        if (json != null) {
            b.header("Content-Type", "application/json");
        }
        b.method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
        HttpResponse<String> r = gateway.send(b.build());
        try {
            return new Answer(r.statusCode(), r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body()));
        } catch (IOException e) {
            throw new UncheckedIOException("not JSON: " + r.body(), e);
        }
    }

    AdminCalls as(String otherKey) {
        return new AdminCalls(gateway, otherKey);
    }

    /** A chat call's status with {@code key} on {@code model}. */
    int chat(String withKey, String model) {
        return gateway.post("/v1/chat/completions",
                "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "Authorization", "Bearer " + withKey, "Content-Type", "application/json").statusCode();
    }
}
