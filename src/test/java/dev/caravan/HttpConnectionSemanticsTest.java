package dev.caravan;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The listener keeps HTTP/1.1's connection rules as a raw client sees them: the client's version and
 * {@code Connection: close} decide framing and whether the connection stays, ambiguous or unknown framing is refused
 * and the connection closed (RFC 9112 6.1), and a client that vanishes mid-body is not an operator's problem.
 */
class HttpConnectionSemanticsTest {

    static final String KEY = TestGateway.MASTER_KEY;
    static TestGateway gateway;
    static final ListAppender<ILoggingEvent> logs = new ListAppender<>();

    @BeforeAll
    static void start() throws Exception {
        logs.start();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
        gateway = TestGateway.start(TestGateway.MOCK_CONFIG);
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    }

    static String chatBody(boolean stream) {
        return "{\"model\":\"mock-gpt\",\"stream\":" + stream + ",\"max_tokens\":5,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
    }

    @Test
    void anHttp10ClientGetsAStreamWithoutChunkingEndedByClose() throws Exception {
        try (RawHttp http = new RawHttp(gateway.port())) {
            http.send(RawHttp.chat(KEY, chatBody(true), "", "HTTP/1.0"));
            RawHttp.Answer answer = http.read(); // no length, no chunking: read until the server closes
            assertThat(answer.status()).isEqualTo(200);
            assertThat(answer.header("transfer-encoding")).isNull();
            assertThat(answer.header("connection")).isEqualToIgnoringCase("close");
            assertThat(answer.body()).startsWith("data: {").endsWith("data: [DONE]\n\n");
        }
    }

    @Test
    void connectionCloseFromTheClientClosesAfterDone() throws Exception {
        try (RawHttp http = new RawHttp(gateway.port())) {
            http.send(RawHttp.chat(KEY, chatBody(true), "Connection: close\r\n", "HTTP/1.1"));
            RawHttp.Answer answer = http.read();
            assertThat(answer.header("transfer-encoding")).isEqualTo("chunked");
            assertThat(answer.header("connection")).isEqualToIgnoringCase("close");
            assertThat(answer.body()).endsWith("data: [DONE]\n\n");
            assertThat(http.closedByServerWithin(2_000)).as("closed after [DONE]").isTrue();
        }
    }

    @Test
    void connectionCloseAndHttp10AreHonouredForWholeAnswers() throws Exception {
        try (RawHttp http = new RawHttp(gateway.port())) {
            http.send(RawHttp.chat(KEY, chatBody(false), "Connection: close\r\n", "HTTP/1.1"));
            RawHttp.Answer answer = http.read();
            assertThat(answer.status()).isEqualTo(200);
            assertThat(answer.header("connection")).isEqualToIgnoringCase("close");
            assertThat(http.closedByServerWithin(2_000)).isTrue();
        }
        try (RawHttp http = new RawHttp(gateway.port())) {
            http.send(RawHttp.chat(KEY, chatBody(false), "", "HTTP/1.0"));
            RawHttp.Answer answer = http.read();
            assertThat(answer.status()).isEqualTo(200);
            assertThat(answer.body()).contains("chat.completion");
            assertThat(http.closedByServerWithin(2_000)).isTrue();
        }
        try (RawHttp http = new RawHttp(gateway.port())) {
            // HTTP/1.0 with keep-alive: a whole answer keeps the connection, a stream (close-delimited) cannot
            http.send(RawHttp.chat(KEY, chatBody(false), "Connection: keep-alive\r\n", "HTTP/1.0"));
            assertThat(http.read().header("connection")).isEqualToIgnoringCase("keep-alive");
            http.send(RawHttp.chat(KEY, chatBody(true), "Connection: keep-alive\r\n", "HTTP/1.0"));
            RawHttp.Answer stream = http.read();
            assertThat(stream.header("transfer-encoding")).isNull();
            assertThat(stream.body()).endsWith("data: [DONE]\n\n");
        }
    }

    @Test
    void contentLengthWithTransferEncodingIsAnsweredThenClosed() throws Exception {
        try (RawHttp http = new RawHttp(gateway.port())) {
            String body = chatBody(false);
            http.send("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + KEY
                    + "\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + Integer.toHexString(body.length()) + "\r\n" + body + "\r\n0\r\n\r\n"
                    + RawHttp.get("/v1/models"));
            RawHttp.Answer answer = http.read();
            assertThat(answer.status()).isEqualTo(400);
            assertThat(answer.header("connection")).isEqualToIgnoringCase("close");
            assertThat(answer.body()).contains("\"error\":{").contains("\"type\":\"invalid_request_error\"");
            assertThat(http.closedByServerWithin(2_000)).as("closed, the smuggled request unanswered").isTrue();
        }
    }

    @Test
    void anUnknownTransferCodingGets400InOpenAiShapeThenClose() throws Exception {
        try (RawHttp http = new RawHttp(gateway.port())) {
            http.send("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + KEY
                    + "\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                    + "5\r\nhello\r\n0\r\n\r\n");
            RawHttp.Answer answer = http.read();
            assertThat(answer.status()).isEqualTo(400);
            assertThat(answer.body()).contains("\"code\":\"unsupported_transfer_encoding\"")
                    .contains("\"message\":").contains("\"param\":null");
            assertThat(http.closedByServerWithin(2_000)).isTrue();
        }
        try (RawHttp http = new RawHttp(gateway.port())) {
            http.send("POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: " + KEY
                    + "\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\n{}");
            RawHttp.Answer answer = http.read();
            assertThat(answer.status()).isEqualTo(400);
            assertThat(answer.body()).contains("\"type\":\"error\"").contains("\"invalid_request_error\"");
            assertThat(http.closedByServerWithin(2_000)).isTrue();
        }
    }

    @Test
    void answersNettyWritesItselfKeepTheirPlaceInTheOrder() throws Exception {
        try (TestGateway small = TestGateway.start(TestGateway.MOCK_CONFIG, java.util.Map.of("caravan.maxBodyBytes", "1000"));
             RawHttp http = new RawHttp(small.port())) {
            // 100 Continue is not the answer: the request still gets its own
            http.send("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + KEY
                    + "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: "
                    + chatBody(false).length() + "\r\n\r\n");
            assertThat(http.readHead()).startsWith("HTTP/1.1 100 Continue");
            http.send(chatBody(false));
            assertThat(http.read().status()).isEqualTo(200);
            // an oversized body is refused before it is read (413, in OpenAI's shape); what is pipelined after it waits its turn
            http.send("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + KEY
                    + "\r\nContent-Length: 2000\r\n\r\n"
                    + "x".repeat(2000) + RawHttp.get("/v1/models"));
            RawHttp.Answer tooLarge = http.read();
            assertThat(tooLarge.status()).isEqualTo(413);
            assertThat(tooLarge.body()).contains("\"error\":{");
            if (!"close".equalsIgnoreCase(tooLarge.header("connection"))) {
                assertThat(http.read().body()).contains("\"object\":\"list\"");
            }
        }
    }

    @Test
    void aClientThatDropsMidBodyLeavesNoWarningAndTheGatewayServesOn() throws Exception {
        int before = logs.list.size();
        for (int i = 0; i < 3; i++) {
            RawHttp http = new RawHttp(gateway.port());
            http.send("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + KEY
                    + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\":");
            Thread.sleep(50);
            if (i == 0) {
                http.close(); // FIN
            } else {
                http.abort(); // RST
            }
        }
        // the same, on a connection that already served a request
        RawHttp used = new RawHttp(gateway.port());
        used.send(RawHttp.get("/v1/models"));
        assertThat(used.read().status()).isEqualTo(200);
        used.send("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{\"a\":");
        Thread.sleep(50);
        used.abort();
        Thread.sleep(300);
        assertThat(gateway.get("/v1/models", "Authorization", "Bearer " + KEY).statusCode()).isEqualTo(200);
        List<ILoggingEvent> noisy = logs.list.subList(before, logs.list.size()).stream()
                .filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN) || e.getThrowableProxy() != null).toList();
        assertThat(noisy).extracting(ILoggingEvent::getFormattedMessage).isEmpty();
    }
}
