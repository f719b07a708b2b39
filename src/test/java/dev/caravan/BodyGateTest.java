package dev.caravan;

import dev.caravan.core.Json;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * No body is kept before its key is checked, and the bodies that are kept fit one budget: a caller without a valid
 * key is answered 401 from the headers (instead of {@code 100 Continue}) while its body is dropped; authenticated
 * bodies beyond the budget get 503 with Retry-After; every byte comes back to the budget, however a request ends.
 */
class BodyGateTest {

    private static final String KEY = "Authorization: Bearer " + TestGateway.DEMO_KEY + "\r\n";
    private static final int BUDGET = 1 << 20;
    private static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start(TestGateway.MOCK_CONFIG, Map.of("caravan.maxBodyBytesInFlight", Integer.toString(BUDGET)));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    private static String head(String path, String extraHeaders, long length) {
        return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extraHeaders
                + "Content-Length: " + length + "\r\n\r\n";
    }

    /** A valid chat body of exactly {@code size} bytes (padded inside the prompt). */
    private static String chatBody(int size) {
        String start = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi ";
        String end = "\"}]}";
        char[] pad = new char[size - start.length() - end.length()];
        Arrays.fill(pad, 'a');
        return start + new String(pad) + end;
    }

    private static JsonNode json(String response) throws IOException {
        return Json.MAPPER.readTree(response.substring(response.indexOf("\r\n\r\n") + 4));
    }

    private double heldBytes() {
        assertThat(gateway.metrics()).contains("\ncaravan_body_bytes_in_flight ");
        return gateway.metric("caravan_body_bytes_in_flight");
    }

    @Test
    void expectContinueWithoutAValidKeyGets401InsteadOf100Continue() throws Exception {
        try (RawHttp raw = new RawHttp(gateway.port())) {
            raw.send(head("/v1/chat/completions", "Authorization: Bearer sk-wrong\r\nExpect: 100-continue\r\n", 5_000_000));
            String response = raw.readResponse();
            assertThat(response).startsWith("HTTP/1.1 401");
            assertThat(json(response).path("error").path("code").asText()).isEqualTo("invalid_api_key");
        }
        try (RawHttp raw = new RawHttp(gateway.port())) {
            raw.send(head("/v1/messages", "x-api-key: sk-wrong\r\nExpect: 100-continue\r\n", 5_000_000));
            String response = raw.readResponse();
            assertThat(response).startsWith("HTTP/1.1 401");
            assertThat(json(response).path("error").path("type").asText()).isEqualTo("authentication_error");
        }
    }

    @Test
    void expectContinueWithAValidKeyGets100ContinueThenTheAnswer() throws Exception {
        String body = chatBody(2000);
        try (RawHttp raw = new RawHttp(gateway.port())) {
            raw.send(head("/v1/chat/completions", KEY + "Expect: 100-continue\r\n", body.length()));
            assertThat(raw.readResponse()).startsWith("HTTP/1.1 100");
            raw.send(body);
            assertThat(raw.readResponse()).startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void largeBodyWithoutAKeyIsAnsweredFromTheHeadersAndTheConnectionClosed() throws Exception {
        try (RawHttp raw = new RawHttp(gateway.port())) {
            // 31 MB announced, 1 MB sent: the answer comes now, not after the body
            raw.send(head("/v1/chat/completions", "", 31_000_000));
            raw.send(new byte[1 << 20]);
            String response = raw.readResponse();
            assertThat(response).startsWith("HTTP/1.1 401").containsIgnoringCase("connection: close");
            assertThat(raw.millisUntilClosed(5000)).isNotNegative();
        }
        assertThat(heldBytes()).isZero();
    }

    @Test
    void smallBodyWithoutAKeyIsDroppedAndTheConnectionKept() throws Exception {
        String body = chatBody(3000);
        try (RawHttp raw = new RawHttp(gateway.port())) {
            raw.send(head("/v1/chat/completions", "Authorization: Bearer sk-wrong\r\n", body.length()) + body);
            assertThat(raw.readResponse()).startsWith("HTTP/1.1 401");
            raw.send(head("/v1/chat/completions", KEY, body.length()) + body);
            assertThat(raw.readResponse()).startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void authenticatedBodiesBeyondTheBudgetGet503WithRetryAfterAndTheBudgetComesBack() throws Exception {
        String big = chatBody(700_000);
        try (RawHttp first = new RawHttp(gateway.port()); RawHttp second = new RawHttp(gateway.port())) {
            // the first holds 700 kB of the 1 MiB budget while its body is still arriving
            first.send(head("/v1/chat/completions", KEY, big.length()) + big.substring(0, 1000));
            Thread.sleep(200);
            second.send(head("/v1/chat/completions", KEY, big.length()) + big);
            String refused = second.readResponse();
            assertThat(refused).startsWith("HTTP/1.1 503").containsIgnoringCase("retry-after: 1");
            JsonNode error = json(refused).path("error");
            assertThat(error.path("code").asText()).isEqualTo("overloaded");
            assertThat(error.path("type").asText()).isEqualTo("server_error");
            first.send(big.substring(1000));
            assertThat(first.readResponse()).startsWith("HTTP/1.1 200");
        }
        // answered: the budget is whole again, and the same body now fits
        assertThat(heldBytes()).isZero();
        try (RawHttp raw = new RawHttp(gateway.port())) {
            raw.send(head("/v1/chat/completions", KEY, big.length()) + big);
            assertThat(raw.readResponse()).startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void chunkedBodyThatOutgrowsTheBudgetGets503() throws Exception {
        try (RawHttp raw = new RawHttp(gateway.port())) {
            raw.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + KEY + "Transfer-Encoding: chunked\r\n\r\n");
            byte[] chunk = new byte[64 * 1024];
            Arrays.fill(chunk, (byte) 'a');
            String size = Integer.toHexString(chunk.length) + "\r\n";
            String response = null;
            for (int i = 0; i < 40 && response == null; i++) {
                raw.send(size);
                raw.send(chunk);
                raw.send("\r\n");
                if (raw.socket.getInputStream().available() > 0) {
                    response = raw.readResponse();
                }
            }
            if (response == null) {
                raw.send("0\r\n\r\n");
                response = raw.readResponse();
            }
            assertThat(response).startsWith("HTTP/1.1 503");
        }
        assertThat(heldBytes()).isZero();
    }

    @Test
    void bodiesOfAbandonedRequestsComeBackToTheBudget() throws Exception {
        String big = chatBody(600_000);
        for (int i = 0; i < 3; i++) {
            try (RawHttp raw = new RawHttp(gateway.port())) {
                raw.send(head("/v1/chat/completions", KEY, big.length()) + big.substring(0, 300_000));
                Thread.sleep(100);
            }
        }
        long deadline = System.currentTimeMillis() + 3000;
        while (heldBytes() > 0 && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
        }
        assertThat(heldBytes()).isZero();
        try (RawHttp raw = new RawHttp(gateway.port())) {
            raw.send(head("/v1/chat/completions", KEY, big.length()) + big);
            assertThat(raw.readResponse()).startsWith("HTTP/1.1 200");
        }
    }
}
