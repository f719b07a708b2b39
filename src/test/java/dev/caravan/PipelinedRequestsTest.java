package dev.caravan;

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
 * HTTP/1.1 pipelining (RFC 9112 9.3.2): a client may send requests without waiting, and the answers must come back
 * in the order the requests were sent, whole, whatever order their upstreams finish in; streams too.
 */
class PipelinedRequestsTest {

    static final String KEY = TestGateway.MASTER_KEY;
    static TestGateway gateway;
    static final ListAppender<ILoggingEvent> access = new ListAppender<>();

    @BeforeAll
    static void start() throws Exception {
        access.start();
        ((Logger) LoggerFactory.getLogger("caravan.access")).addAppender(access);
        gateway = TestGateway.start(TestGateway.MOCK_CONFIG);
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        ((Logger) LoggerFactory.getLogger("caravan.access")).detachAppender(access);
    }

    @Test
    void pipelinedAnswersLeaveInRequestOrderWhateverOrderTheyFinishIn() throws Exception {
        try (RawHttp http = new RawHttp(gateway.port())) {
            http.send(RawHttp.chat(KEY, "mock-slow", false, "FIRST", "")
                    + RawHttp.chat(KEY, "mock-gpt", false, "SECOND", "")
                    + RawHttp.get("/v1/models"));
            RawHttp.Answer first = http.read();
            RawHttp.Answer second = http.read();
            RawHttp.Answer third = http.read();
            assertThat(first.status()).isEqualTo(200);
            assertThat(first.body()).contains("\"model\":\"mock-slow\"");
            assertThat(second.body()).contains("\"model\":\"mock-gpt\"");
            assertThat(third.body()).contains("\"object\":\"list\"");
        }
    }

    @Test
    void pipelinedStreamsComeBackOneAfterTheOtherNeverInterleaved() throws Exception {
        try (RawHttp http = new RawHttp(gateway.port())) {
            http.send(RawHttp.chat(KEY, "mock-slow", true, "FIRST", "")
                    + RawHttp.chat(KEY, "mock-gpt", true, "SECOND", "")
                    + RawHttp.chat(KEY, "mock-gpt", false, "THIRD", ""));
            RawHttp.Answer first = http.read();
            RawHttp.Answer second = http.read();
            RawHttp.Answer third = http.read();
            assertThat(first.header("content-type")).startsWith("text/event-stream");
            assertThat(first.body()).contains("\"model\":\"mock-slow\"").doesNotContain("mock-gpt").endsWith("data: [DONE]\n\n");
            assertThat(second.header("content-type")).startsWith("text/event-stream");
            assertThat(second.body()).contains("\"model\":\"mock-gpt\"").doesNotContain("mock-slow").endsWith("data: [DONE]\n\n");
            assertThat(third.body()).startsWith("{").contains("\"object\":\"chat.completion\"");
        }
    }

    @Test
    void everyPipelinedStreamEndsWhenTheClientLeaves() throws Exception {
        String longStream = "{\"model\":\"mock-slow\",\"stream\":true,\"max_tokens\":200,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"long\"}]}";
        RawHttp http = new RawHttp(gateway.port());
        http.send(RawHttp.chat(KEY, longStream, "", "HTTP/1.1") + RawHttp.chat(KEY, longStream, "", "HTTP/1.1")
                + RawHttp.chat(KEY, longStream, "", "HTTP/1.1"));
        String head = http.readHead();
        assertThat(head).startsWith("HTTP/1.1 200");
        String requestId = head.lines().filter(l -> l.toLowerCase().startsWith("x-caravan-request-id:"))
                .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElseThrow();
        http.close();

        long deadline = System.currentTimeMillis() + 5_000;
        while (System.currentTimeMillis() < deadline && gateway.caravan().streams().openStreams() > 0) {
            Thread.sleep(20);
        }
        assertThat(gateway.caravan().streams().openStreams()).as("streams still open after the client left").isZero();
        assertThat(gateway.metric("caravan_open_streams")).isZero();
        // the stream on the wire ended as client_closed; the requests still waiting their turn never reached a route
        deadline = System.currentTimeMillis() + 2_000;
        List<String> lines = List.of();
        while (System.currentTimeMillis() < deadline && lines.isEmpty()) {
            Thread.sleep(20); // the access log is written after the stream's post-processing
            synchronized (access) { // the appender appends under its own lock
                lines = access.list.stream().map(ILoggingEvent::getFormattedMessage)
                        .filter(l -> l.contains(requestId)).toList();
            }
        }
        assertThat(lines).singleElement().asString().contains("\"outcome\":\"client_closed\"");
    }

    @Test
    void nothingPipelinedAfterARequestThatSaidCloseIsAnswered() throws Exception {
        try (RawHttp http = new RawHttp(gateway.port())) {
            http.send(RawHttp.chat(KEY, "mock-slow", true, "LAST", "Connection: close\r\n") + RawHttp.get("/v1/models"));
            RawHttp.Answer answer = http.read();
            assertThat(answer.body()).contains("mock-slow").endsWith("data: [DONE]\n\n");
            assertThat(http.closedByServerWithin(2_000)).isTrue();
        }
    }

    @Test
    void aPipelineBeyondTheBoundIsAnsweredUpToTheBoundThenClosed() throws Exception {
        try (RawHttp http = new RawHttp(gateway.port())) {
            StringBuilder burst = new StringBuilder(RawHttp.chat(KEY, "mock-slow", true, "FIRST", ""));
            for (int i = 0; i < 100; i++) {
                burst.append(RawHttp.get("/v1/models"));
            }
            http.send(burst.toString());
            assertThat(http.read().body()).contains("mock-slow").endsWith("data: [DONE]\n\n");
            int answered = 0;
            try {
                while (answered < 100) {
                    assertThat(http.read().body()).contains("\"object\":\"list\"");
                    answered++;
                }
            } catch (java.io.IOException closed) {
                // the server closed after the answers it owed
            }
            assertThat(answered).isPositive().isLessThan(100);
        }
        // the connection's cut did not hurt the next client
        assertThat(gateway.get("/v1/models", "Authorization", "Bearer " + KEY).statusCode()).isEqualTo(200);
    }
}
