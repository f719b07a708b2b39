package dev.caravan.transport.bus;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.TestGateway;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.Json;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The bus's door and the shared spine, below any broker: a message as an adapter reads it goes to
 * {@code direct:bus-request} and comes back as the reply its bus would send.
 */
class BusDoorThroughTheSpineTest {

    private static TestGateway gateway;
    private static ProducerTemplate producer;

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start(TestGateway.MOCK_CONFIG);
        producer = gateway.caravan().context().createProducerTemplate();
    }

    @AfterAll
    static void stop() throws Exception {
        producer.close();
        gateway.close();
    }

    private static BusReply send(String messageId, String body, boolean canReply, String... properties) {
        Map<String, String> p = new HashMap<>();
        for (int i = 0; i < properties.length; i += 2) {
            p.put(properties[i], properties[i + 1]);
        }
        Exchange exchange = new DefaultExchange(gateway.caravan().context());
        exchange.setProperty(ExchangeKeys.BUS_MESSAGE, new BusMessage("jms", messageId, p,
                body.getBytes(StandardCharsets.UTF_8), canReply));
        Exchange done = producer.send("direct:bus-request", exchange);
        assertThat(done.getException()).isNull();
        return done.getProperty(ExchangeKeys.BUS_REPLY, BusReply.class);
    }

    private static JsonNode json(BusReply reply) {
        return Json.parseObjectOrNull(reply.body());
    }

    private static final String CHAT = """
            {"model":"mock-gpt","messages":[{"role":"user","content":"hello over the bus"}]}""";

    @Test
    void aChatRequestGetsTheAnswerHttpWouldGiveWithItsProperties() {
        BusReply reply = send("m-1", CHAT, true, "caravan-api-key", TestGateway.DEMO_KEY);
        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.deadLetter()).isNull();
        assertThat(json(reply).path("object").asText()).isEqualTo("chat.completion");
        assertThat(json(reply).path("choices").get(0).path("message").path("content").asText()).isNotBlank();
        assertThat(reply.properties()).containsEntry(BusReply.STATUS, "200").containsKey(BusReply.REQUEST_ID)
                .containsKey(BusReply.COST).containsEntry("caravan-deployment", "mock-mock-gpt");
        assertThat(reply.properties().get(BusReply.REQUEST_ID)).startsWith("req_");
    }

    @Test
    void theSameMessageDeliveredTwiceGetsTheSameReplyWithoutASecondCall() {
        BusReply first = send("m-dup", CHAT, true, "caravan-api-key", TestGateway.DEMO_KEY);
        BusReply second = send("m-dup", CHAT, true, "caravan-api-key", TestGateway.DEMO_KEY);
        assertThat(second.body()).isEqualTo(first.body()); // the mock's answer id is new on every call
        assertThat(second.properties()).containsEntry(BusReply.REPLAYED, "true")
                .containsEntry(BusReply.REQUEST_ID, first.properties().get(BusReply.REQUEST_ID));
        BusReply other = send("m-other", CHAT, true, "caravan-api-key", TestGateway.DEMO_KEY);
        assertThat(json(other).path("id").asText()).isNotEqualTo(json(first).path("id").asText());
    }

    @Test
    void anIdempotencyKeyMakesTwoMessagesOneRequest() {
        BusReply first = send("a", CHAT, true, "caravan-api-key", TestGateway.DEMO_KEY, "caravan-idempotency-key", "order-7");
        BusReply second = send("b", CHAT, true, "caravan-api-key", TestGateway.DEMO_KEY, "caravan-idempotency-key", "order-7");
        assertThat(second.body()).isEqualTo(first.body());
    }

    @Test
    void noKeyIsA401ReplyInOpenAisShape() {
        BusReply reply = send("m-401", CHAT, true);
        assertThat(reply.status()).isEqualTo(401);
        assertThat(reply.properties()).containsEntry(BusReply.STATUS, "401");
        assertThat(json(reply).path("error").path("type").asText()).isNotBlank();
        assertThat(reply.deadLetter()).isNull();
    }

    @Test
    void theAnthropicDialectIsAnsweredAsMessages() {
        BusReply reply = send("m-anthropic", """
                {"model":"mock-gpt","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}""", true,
                "caravan-api-key", TestGateway.DEMO_KEY, "caravan-dialect", "anthropic");
        assertThat(reply.status()).isEqualTo(200);
        assertThat(json(reply).path("type").asText()).isEqualTo("message");
        assertThat(json(reply).path("content").get(0).path("type").asText()).isEqualTo("text");
    }

    @Test
    void aStreamIsAnsweredWhole() {
        BusReply reply = send("m-stream", """
                {"model":"mock-gpt","stream":true,"messages":[{"role":"user","content":"hi"}]}""", true,
                "caravan-api-key", TestGateway.DEMO_KEY);
        assertThat(reply.status()).isEqualTo(200);
        assertThat(json(reply).path("object").asText()).isEqualTo("chat.completion");
        assertThat(json(reply).path("usage").path("total_tokens").asInt()).isPositive();
    }

    @Test
    void embeddingsAreAnOperation() {
        BusReply reply = send("m-emb", """
                {"model":"mock-gpt","input":"a sentence"}""", true,
                "caravan-api-key", TestGateway.DEMO_KEY, "caravan-operation", "embeddings");
        assertThat(reply.status()).isEqualTo(200);
        assertThat(json(reply).path("data").get(0).path("embedding").isArray()).isTrue();
    }

    @Test
    void anUnknownOperationIsA400NamingTheProperty() {
        BusReply reply = send("m-op", CHAT, true, "caravan-api-key", TestGateway.DEMO_KEY, "caravan-operation", "images");
        assertThat(reply.status()).isEqualTo(400);
        assertThat(json(reply).path("error").path("code").asText()).isEqualTo("invalid_operation");
        assertThat(json(reply).path("error").path("param").asText()).isEqualTo("caravan-operation");
    }

    @Test
    void malformedJsonIsA400Reply() {
        BusReply reply = send("m-bad", "{not json", true, "caravan-api-key", TestGateway.DEMO_KEY);
        assertThat(reply.status()).isEqualTo(400);
        assertThat(json(reply).path("error").path("code").asText()).isEqualTo("invalid_json");
    }

    @Test
    void aMessageWithNowhereToReplyIsDeadLetteredWithoutACall() {
        BusReply reply = send("m-noreply", CHAT, false, "caravan-api-key", TestGateway.DEMO_KEY);
        assertThat(reply.deadLetter()).isEqualTo("no_reply_destination");
        assertThat(reply.status()).isEqualTo(400);
    }

    @Test
    void aBusRequestIsInTheSameBooksAsHttpUnderItsIngress() throws Exception {
        BusReply reply = send("m-books", CHAT, true, "caravan-api-key", TestGateway.DEMO_KEY);
        assertThat(reply.status()).isEqualTo(200);
        assertThat(gateway.post("/v1/chat/completions", CHAT, "Authorization", "Bearer " + TestGateway.DEMO_KEY,
                "Content-Type", "application/json").statusCode()).isEqualTo(200);

        assertThat(gateway.metrics()).containsPattern("caravan_requests_total\\{[^}]*endpoint=\"chat\",ingress=\"jms\"[^}]*status=\"200\"")
                .containsPattern("caravan_requests_total\\{[^}]*endpoint=\"chat\",ingress=\"http\"[^}]*status=\"200\"");
        // the spend ledger: one row per request, with how it came in (the writer appends off the request path)
        TestGateway.eventually(() -> {
            JsonNode spend = Json.parseObjectOrNull(gateway.get("/admin/spend?group_by=ingress", "Authorization",
                    "Bearer " + TestGateway.MASTER_KEY).body());
            boolean jms = false;
            boolean http = false;
            for (JsonNode group : spend.path("data")) {
                jms |= group.path("ingress").asText().equals("jms") && group.path("requests").asLong() >= 1;
                http |= group.path("ingress").asText().equals("http") && group.path("requests").asLong() >= 1;
            }
            return jms && http;
        }, "the ledger's spend by ingress to show jms and http rows");
    }

    @Test
    void aStreamAskedInChunksIsOneMessagePerEventInOrderWithTheLastMarked() {
        BusReply reply = send("m-chunks", """
                {"model":"mock-gpt","stream":true,"stream_options":{"include_usage":true},
                 "messages":[{"role":"user","content":"tell me a story"}]}""", true,
                "caravan-api-key", TestGateway.DEMO_KEY, "caravan-stream", "chunks");
        assertThat(reply.status()).isEqualTo(200);
        java.util.List<BusReply.Part> parts = reply.parts();
        assertThat(parts.size()).isGreaterThan(2);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < parts.size(); i++) {
            BusReply.Part part = parts.get(i);
            assertThat(part.properties()).containsEntry(BusReply.SEQUENCE, Integer.toString(i))
                    .containsEntry(BusReply.STATUS, "200").containsKey(BusReply.REQUEST_ID);
            JsonNode chunk = Json.parseObjectOrNull(part.body());
            assertThat(chunk.path("object").asText()).isEqualTo("chat.completion.chunk");
            chunk.path("choices").forEach(c -> text.append(c.path("delta").path("content").asText("")));
            if (i < parts.size() - 1) {
                assertThat(part.properties()).doesNotContainKey(BusReply.LAST);
            }
        }
        assertThat(parts.get(parts.size() - 1).properties()).containsEntry(BusReply.LAST, "true");
        assertThat(text).isNotEmpty();
        // the usage chunk the client asked for is there, and the stream's cost is on every part
        assertThat(Json.parseObjectOrNull(parts.get(parts.size() - 1).body()).path("usage").path("total_tokens").asInt())
                .isPositive();
        assertThat(reply.properties()).containsKey(BusReply.COST);

        BusReply again = send("m-chunks", "{}", true, "caravan-api-key", TestGateway.DEMO_KEY, "caravan-stream", "chunks");
        assertThat(again.parts()).hasSameSizeAs(parts); // a redelivery replays the same chunks, without a call
        assertThat(again.parts().get(1).body()).isEqualTo(parts.get(1).body());
    }

    @Test
    void anAnthropicStreamInChunksCarriesAnthropicsEvents() {
        BusReply reply = send("m-chunks-anthropic", """
                {"model":"mock-gpt","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}""", true,
                "caravan-api-key", TestGateway.DEMO_KEY, "caravan-dialect", "anthropic", "caravan-stream", "chunks");
        assertThat(reply.status()).isEqualTo(200);
        java.util.List<String> types = reply.parts().stream()
                .map(p -> Json.parseObjectOrNull(p.body()).path("type").asText()).toList();
        assertThat(types.get(0)).isEqualTo("message_start");
        assertThat(types).contains("content_block_delta");
        assertThat(types.get(types.size() - 1)).isEqualTo("message_stop");
    }

    @Test
    void aRememberedReplyIsOnlyGivenAgainToTheSameCredential() {
        BusReply first = send("m-owned", CHAT, true, "caravan-api-key", TestGateway.DEMO_KEY);
        assertThat(first.status()).isEqualTo(200);
        // the same message id (the sender's to choose) with no key, or another key: not the first one's answer
        BusReply keyless = send("m-owned", CHAT, true);
        assertThat(keyless.status()).isEqualTo(401);
        assertThat(keyless.properties()).doesNotContainKey(BusReply.REPLAYED);
        BusReply other = send("m-owned", CHAT, true, "caravan-api-key", TestGateway.MASTER_KEY);
        assertThat(other.status()).isEqualTo(200);
        assertThat(other.properties()).doesNotContainKey(BusReply.REPLAYED);
        assertThat(other.body()).isNotEqualTo(first.body());
        // the same key again, even spelled as Authorization: the first answer
        BusReply again = send("m-owned", CHAT, true, "Authorization", "Bearer " + TestGateway.DEMO_KEY);
        assertThat(again.properties()).containsEntry(BusReply.REPLAYED, "true");
        assertThat(again.body()).isEqualTo(first.body());
    }
}
