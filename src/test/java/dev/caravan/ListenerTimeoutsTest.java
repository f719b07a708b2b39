package dev.caravan;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Connections are bounded before authentication: a connection that sends nothing, headers that trickle in, a body
 * that stops, and a kept-alive connection left idle are closed after their timeout (small values here), each counted
 * by reason; an answer in progress is not cut by any of them.
 */
class ListenerTimeoutsTest {

    private static final String KEY = "Authorization: Bearer " + TestGateway.DEMO_KEY + "\r\n";
    private static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start("""
                providers:
                  mock: { type: mock }
                  mock-late: { type: mock, latency: 3s }
                models:
                  - name: mock-gpt
                    deployments: [ { provider: mock, model: mock-gpt } ]
                  - name: mock-late
                    deployments: [ { provider: mock-late, model: mock-late } ]
                keys:
                  - id: demo
                    sha256: bd064c47a07f5e297c4d7198b05c97024eae96d2a4d18612def78da7f1307af4
                """, Map.of(
                "caravan.headerTimeout", "1s", "caravan.bodyTimeout", "1s", "caravan.idleTimeout", "2s"));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    private double closed(String reason) {
        return gateway.metric("caravan_connections_closed_total{reason=\"" + reason + "\"}");
    }

    @Test
    void connectionThatSendsNothingIsClosedAfterTheHeaderTimeout() throws Exception {
        double before = closed("header_timeout");
        try (RawHttp raw = new RawHttp(gateway.port())) {
            long ms = raw.millisUntilClosed(5000);
            assertThat(ms).isBetween(800L, 3000L);
        }
        assertThat(closed("header_timeout")).isGreaterThan(before);
    }

    @Test
    void headersTricklingInAreCutAtTheHeaderTimeoutHoweverSteady() throws Exception {
        try (RawHttp raw = new RawHttp(gateway.port())) {
            raw.send("POST /v1/chat/completions HTTP/1.1\r\n");
            long start = System.nanoTime();
            boolean open = true;
            // a slowloris: a header byte every 200 ms, never the blank line
            for (int i = 0; i < 25 && open; i++) {
                try {
                    raw.send("X");
                } catch (java.io.IOException e) {
                    open = false;
                }
                Thread.sleep(200);
                raw.socket.setSoTimeout(1);
                try {
                    open = raw.socket.getInputStream().read() >= 0;
                } catch (java.net.SocketTimeoutException e) {
                    // still open
                } catch (java.io.IOException e) {
                    open = false;
                }
            }
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertThat(open).as("closed while trickling").isFalse();
            assertThat(ms).isLessThan(3500L);
        }
    }

    @Test
    void halfSentBodyIsClosedAfterTheBodyTimeout() throws Exception {
        double before = closed("body_timeout");
        try (RawHttp raw = new RawHttp(gateway.port())) {
            raw.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + KEY
                    + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":");
            assertThat(raw.millisUntilClosed(5000)).isBetween(800L, 3000L);
        }
        assertThat(closed("body_timeout")).isGreaterThan(before);
    }

    @Test
    void chunkedBodyThatNeverEndsIsClosedAfterTheBodyTimeout() throws Exception {
        try (RawHttp raw = new RawHttp(gateway.port())) {
            raw.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + KEY
                    + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"model\":\r\n");
            assertThat(raw.millisUntilClosed(5000)).isBetween(800L, 3000L);
        }
    }

    @Test
    void keptAliveConnectionIsClosedAfterTheIdleTimeoutNotBefore() throws Exception {
        double before = closed("idle");
        try (RawHttp raw = new RawHttp(gateway.port())) {
            raw.send("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n");
            assertThat(raw.readResponse()).startsWith("HTTP/1.1 200");
            long ms = raw.millisUntilClosed(5000);
            assertThat(ms).as("idle 2 s, not the 1 s header timeout").isBetween(1700L, 3500L);
        }
        assertThat(closed("idle")).isGreaterThan(before);
    }

    @Test
    void answerInProgressIsNotCutByAnyTimeout() throws Exception {
        try (RawHttp raw = new RawHttp(gateway.port())) {
            // mock-late answers after 3 s: longer than every timeout here
            String body = "{\"model\":\"mock-late\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
            long start = System.nanoTime();
            raw.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + KEY
                    + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body);
            assertThat(raw.readResponse()).startsWith("HTTP/1.1 200");
            assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThan(2900L);
        }
    }
}
