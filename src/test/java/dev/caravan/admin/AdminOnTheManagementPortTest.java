package dev.caravan.admin;

import dev.caravan.TestGateway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** With caravan.managementPort set, the admin API answers there too, and still asks every caller for a key. */
class AdminOnTheManagementPortTest {

    static TestGateway gateway;
    static int management;
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        management = TestGateway.freePort();
        gateway = TestGateway.start(KeyLifecycleTest.CONFIG, Map.of("caravan.managementPort", Integer.toString(management)));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    static HttpResponse<String> onManagement(String method, String path, String key, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + management + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aKeyMadeOnTheManagementPortWorksOnTheApiPort() throws Exception {
        HttpResponse<String> made = onManagement("POST", "/admin/keys", TestGateway.MASTER_KEY, "{\"id\":\"from-ops\"}");
        assertThat(made.statusCode()).as(made.body()).isEqualTo(201);
        String secret = AdminCalls.JSON.readTree(made.body()).path("key").asText();
        assertThat(new AdminCalls(gateway, TestGateway.MASTER_KEY).chat(secret, "mock-gpt")).isEqualTo(200);
        assertThat(onManagement("GET", "/admin/keys/from-ops", TestGateway.MASTER_KEY, null).statusCode()).isEqualTo(200);
    }

    @Test
    void theManagementPortStillWantsAKeyForTheAdminApi() throws Exception {
        HttpResponse<String> anonymous = onManagement("GET", "/admin/keys", null, null);
        assertThat(anonymous.statusCode()).isEqualTo(401);
        assertThat(anonymous.body()).contains("\"error\"");
        assertThat(onManagement("GET", "/admin/keys", TestGateway.DEMO_KEY, null).statusCode()).isEqualTo(403);
    }
}
