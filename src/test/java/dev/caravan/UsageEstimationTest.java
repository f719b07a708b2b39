package dev.caravan;

import dev.caravan.core.Json;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.CompletionUsage;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A provider that reports no usage (some OpenAI-compatible servers, streams without include_usage support): the
 * gateway counts the tokens itself with OpenAI's encodings and says so, in the answer and in the access log.
 */
class UsageEstimationTest {

    static MockWebServer server;
    static TestGateway gateway;
    static ListAppender<ILoggingEvent> access = new ListAppender<>();

    @BeforeAll
    static void start() throws Exception {
        server = new MockWebServer();
        server.start();
        access.start();
        ((Logger) LoggerFactory.getLogger("caravan.access")).addAppender(access);
        gateway = TestGateway.start("""
                providers:
                  local: { type: openai-compatible, baseUrl: "%s" }
                  slow: { type: mock, chunkInterval: 300ms }
                routing: { retries: 0 }
                models:
                  - name: llama
                    deployments: [ { provider: local, model: llama3.1:8b } ]
                  - name: slow
                    deployments: [ { provider: slow, model: gpt-4o-mini } ]
                """.formatted(server.url("/v1").toString().replaceAll("/$", "")));
    }

    @AfterAll
    static void stop() throws Exception {
        ((Logger) LoggerFactory.getLogger("caravan.access")).detachAppender(access);
        gateway.close();
        server.shutdown();
    }

    @Test
    void aWholeAnswerWithoutUsageGetsAnEstimateMarkedAsSuch() throws Exception {
        server.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"llama3.1:8b",
                 "choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"The capital of France is Paris."}}]}"""));
        ChatCompletion c = gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(
                ChatCompletionCreateParams.builder().model("llama").addUserMessage("What is the capital of France?").build());
        CompletionUsage usage = c.usage().orElseThrow();
        // "The capital of France is Paris." is 7 tokens in cl100k_base; the prompt is 7 plus OpenAI's chat framing
        assertThat(usage.completionTokens()).isEqualTo(7);
        assertThat(usage.promptTokens()).isBetween(10L, 20L);
        assertThat(usage.totalTokens()).isEqualTo(usage.promptTokens() + usage.completionTokens());
        assertThat(usage._additionalProperties().get("caravan_estimated").asBoolean()).hasValue(true);

        JsonNode line = lastAccessLine();
        assertThat(line.path("usage_estimated").asBoolean()).isTrue();
        assertThat(line.path("completion_tokens").asLong()).isEqualTo(7);
    }

    @Test
    void aStreamWithoutUsageEndsWithAnEstimatedUsageChunkWhenTheClientAskedForUsage() throws Exception {
        server.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream").setBody("""
                data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"llama3.1:8b","choices":[{"index":0,"delta":{"role":"assistant","content":"The capital"},"finish_reason":null}]}

                data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"llama3.1:8b","choices":[{"index":0,"delta":{"content":" of France is Paris."},"finish_reason":null}]}

                data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"llama3.1:8b","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

                data: [DONE]

                """));
        StringBuilder text = new StringBuilder();
        Optional<CompletionUsage> usage = Optional.empty();
        try (StreamResponse<ChatCompletionChunk> stream = gateway.openai(TestGateway.MASTER_KEY).chat().completions()
                .createStreaming(ChatCompletionCreateParams.builder().model("llama")
                        .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build())
                        .addUserMessage("What is the capital of France?").build())) {
            for (ChatCompletionChunk chunk : stream.stream().toList()) {
                chunk.choices().forEach(ch -> ch.delta().content().ifPresent(text::append));
                if (chunk.usage().isPresent()) {
                    usage = chunk.usage();
                }
            }
        }
        assertThat(text.toString()).isEqualTo("The capital of France is Paris.");
        assertThat(usage).isPresent();
        assertThat(usage.get().completionTokens()).isEqualTo(7);
        assertThat(usage.get()._additionalProperties().get("caravan_estimated").asBoolean()).hasValue(true);
        assertThat(lastAccessLine().path("usage_estimated").asBoolean()).isTrue();
    }

    @Test
    void aProviderThatReportsUsageIsNotEstimated() throws Exception {
        server.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"chatcmpl-2","object":"chat.completion","created":1,"model":"llama3.1:8b",
                 "choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Paris."}}],
                 "usage":{"prompt_tokens":31,"completion_tokens":3,"total_tokens":34}}"""));
        ChatCompletion c = gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(
                ChatCompletionCreateParams.builder().model("llama").addUserMessage("Capital of France?").build());
        assertThat(c.usage().orElseThrow().promptTokens()).isEqualTo(31);
        assertThat(c.usage().orElseThrow()._additionalProperties()).doesNotContainKey("caravan_estimated");
        assertThat(lastAccessLine().has("usage_estimated")).isFalse();
    }

    @Test
    void aClientThatLeavesMidStreamStillHasItsTokensCounted() throws Exception {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", gateway.port())) {
            String body = "{\"model\":\"slow\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a long story\"}]}";
            socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + TestGateway.MASTER_KEY + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length()
                    + "\r\n\r\n" + body).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            socket.setSoTimeout(5000);
            java.io.InputStream in = socket.getInputStream();
            String seen = "";
            byte[] buf = new byte[4096];
            while (!seen.contains("reply")) { // the stream's second word: a couple of chunks arrived
                int n = in.read(buf);
                assertThat(n).isPositive();
                seen += new String(buf, 0, n, java.nio.charset.StandardCharsets.UTF_8);
            }
        } // the client leaves long before the mock's last chunk (and its usage)
        JsonNode line = lastAccessLine();
        assertThat(line.path("usage_estimated").asBoolean()).isTrue();
        assertThat(line.path("prompt_tokens").asLong()).isPositive();
        assertThat(line.path("completion_tokens").asLong()).isBetween(1L, 5L);
    }

    /** Each test makes one request, so the n-th call waits for the n-th line. */
    static JsonNode lastAccessLine() throws Exception {
        linesRead++;
        // a stream's line is written when it ends, just after the client saw [DONE]: give it a moment
        long deadline = System.currentTimeMillis() + 2000;
        while (access.list.size() < linesRead && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        List<ILoggingEvent> events = access.list;
        assertThat(events).hasSize(linesRead);
        return Json.MAPPER.readTree(events.get(events.size() - 1).getFormattedMessage());
    }

    static int linesRead;
}
