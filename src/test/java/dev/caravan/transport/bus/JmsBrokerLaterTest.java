package dev.caravan.transport.bus;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import jakarta.jms.Connection;
import jakarta.jms.MessageConsumer;
import jakarta.jms.Session;
import jakarta.jms.TemporaryQueue;
import jakarta.jms.TextMessage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A configured JMS broker that is not there yet, or goes away: the gateway starts and serves HTTP anyway,
 * {@code /health/ready} says the bus is down, and once the broker is up its consumers reconnect on their own.
 */
class JmsBrokerLaterTest {

    static TestGateway gateway;
    static int port;
    static EmbeddedActiveMq broker;

    @BeforeAll
    static void start() throws Exception {
        port = TestGateway.freePort();
        gateway = TestGateway.start(TestGateway.MOCK_CONFIG + """
                bus:
                  jms: { url: "tcp://127.0.0.1:%d" }
                """.formatted(port), Map.of("caravan.bus.jms.recoveryInterval", "200"));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        if (broker != null) {
            broker.close();
        }
    }

    static JsonNode ready() {
        HttpResponse<String> r = gateway.get("/health/ready");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200); // a bus down never makes the gateway unready
        return Json.parseObjectOrNull(r.body());
    }

    static String jms() {
        return ready().path("checks").path("buses").path("jms").asText();
    }

    @Test
    void theGatewayServesHttpWithTheBrokerDownAndAnswersJmsOnceItIsUp() throws Exception {
        assertThat(ready().path("status").asText()).isEqualTo("UP");
        assertThat(jms()).isEqualTo("DOWN");
        HttpResponse<String> chat = gateway.post("/v1/chat/completions",
                "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "Authorization", "Bearer " + TestGateway.DEMO_KEY, "Content-Type", "application/json");
        assertThat(chat.statusCode()).isEqualTo(200);

        broker = EmbeddedActiveMq.start(port);
        TestGateway.eventually(() -> jms().equals("UP"), "the JMS bus to reconnect");
        assertAnswered("after the broker came up");

        // the broker goes away and comes back: down, then up again, and answering
        broker.close();
        TestGateway.eventually(() -> jms().equals("DOWN"), "the JMS bus to be seen down");
        broker = EmbeddedActiveMq.start(port);
        TestGateway.eventually(() -> jms().equals("UP"), "the JMS bus to reconnect again");
        assertAnswered("after the broker came back");
    }

    static void assertAnswered(String when) throws Exception {
        try (Connection c = broker.connect()) {
            Session session = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            TemporaryQueue replies = session.createTemporaryQueue();
            TextMessage m = session.createTextMessage(
                    "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"are you there\"}]}");
            m.setJMSReplyTo(replies);
            m.setStringProperty("caravan_api_key", TestGateway.DEMO_KEY);
            session.createProducer(session.createQueue("caravan.requests")).send(m);
            try (MessageConsumer consumer = session.createConsumer(replies)) {
                TextMessage reply = (TextMessage) consumer.receive(15_000);
                assertThat(reply).as("a reply " + when).isNotNull();
                assertThat(reply.getStringProperty("caravan_status")).isEqualTo("200");
                assertThat(reply.getJMSCorrelationID()).isEqualTo(m.getJMSMessageID());
            }
        }
    }
}
