package dev.caravan;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Past caravan.maxConnections a new connection is closed at once, counted; a freed slot serves again. */
class ConnectionCapTest {

    @Test
    void connectionsPastTheCapAreClosedAtOnceAndCounted() throws Exception {
        try (TestGateway gateway = TestGateway.start(TestGateway.MOCK_CONFIG, Map.of("caravan.maxConnections", "5"))) {
            List<RawHttp> idle = new ArrayList<>();
            try {
                for (int i = 0; i < 5; i++) {
                    idle.add(new RawHttp(gateway.port()));
                }
                Thread.sleep(200);
                for (int i = 0; i < 3; i++) {
                    try (RawHttp over = new RawHttp(gateway.port())) {
                        assertThat(over.millisUntilClosed(2000)).as("closed at once").isBetween(0L, 500L);
                    }
                }
                var registry = gateway.caravan().metrics().registry();
                assertThat(registry.get("caravan.connections.closed").tag("reason", "over_capacity").counter().count())
                        .isEqualTo(3.0);
                assertThat(registry.get("caravan.open.connections").gauge().value()).isEqualTo(5.0);
                idle.remove(0).close();
                Thread.sleep(200);
                // a freed slot serves again
                try (RawHttp raw = new RawHttp(gateway.port())) {
                    raw.send("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n");
                    assertThat(raw.readResponse()).startsWith("HTTP/1.1 200");
                }
            } finally {
                idle.forEach(RawHttp::close);
            }
        }
    }

    @Test
    void atTheCapHealthLiveStillAnswersOnTheManagementPort() throws Exception {
        int management = TestGateway.freePort();
        try (TestGateway gateway = TestGateway.start(TestGateway.MOCK_CONFIG, Map.of("caravan.maxConnections", "3",
                "caravan.managementPort", Integer.toString(management)))) {
            List<RawHttp> idle = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    idle.add(new RawHttp(gateway.port()));
                }
                Thread.sleep(200);
                try (RawHttp over = new RawHttp(gateway.port())) {
                    assertThat(over.millisUntilClosed(2000)).as("the API port is full").isBetween(0L, 500L);
                }
                try (RawHttp probe = new RawHttp(management)) {
                    probe.send("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n");
                    assertThat(probe.readResponse()).startsWith("HTTP/1.1 200");
                }
            } finally {
                idle.forEach(RawHttp::close);
            }
        }
    }
}
