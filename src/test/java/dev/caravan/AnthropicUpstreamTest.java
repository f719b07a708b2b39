package dev.caravan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIException;
import com.openai.errors.OpenAIServiceException;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionMessageToolCall;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import dev.caravan.config.BreakerSettings;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ProviderConfig;
import dev.caravan.provider.AnthropicProvider;
import dev.caravan.provider.ChatCall;
import dev.caravan.provider.UpstreamClient;
import io.netty.channel.nio.NioEventLoopGroup;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Caravan in front of Anthropic's Messages API: OpenAI clients talk to Claude. The fixtures under
 * {@code src/test/resources/anthropic/} follow the shapes of Anthropic's API reference (messages, streams, errors).
 */
class AnthropicUpstreamTest {

    static final String ANTHROPIC_KEY = TestGateway.fakeProviderKey("sk-ant-api03-");
    static final String AUTH = "Bearer " + TestGateway.MASTER_KEY;
    static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final UpstreamFixture upstreams = new UpstreamFixture();
    static MockWebServer anthropic;
    static Path keyFile;
    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        anthropic = upstreams.server();
        keyFile = upstreams.keyFile("anthropic", ANTHROPIC_KEY + "\n");
        String baseUrl = UpstreamFixture.root(anthropic);
        gateway = upstreams.gateway("""
                providers:
                  claude: { type: anthropic, baseUrl: "%s", apiKey: "${file:%s}" }
                models:
                  - name: claude
                    deployments: [ { provider: claude, model: claude-sonnet-4-5 } ]
                  - name: claude-limited          # its own deployment: a 429 cools it down, not claude
                    deployments: [ { id: claude-limited, provider: claude, model: claude-sonnet-4-5 } ]
                routing:
                  retries: 0
                  breaker: { minimumCalls: 1000, window: 1000 }
                """.formatted(baseUrl, keyFile));
    }

    static String fixture(String name) {
        try (InputStream in = AnthropicUpstreamTest.class.getResourceAsStream("/anthropic/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static MockResponse json(String body) {
        return new MockResponse().setHeader("Content-Type", "application/json").setBody(body);
    }

    static MockResponse events(String body) {
        return new MockResponse().setHeader("Content-Type", "text/event-stream; charset=utf-8").setBody(body);
    }

    static MockResponse error(int status, String type, String message) {
        return json("{\"type\":\"error\",\"error\":{\"type\":\"" + type + "\",\"message\":\"" + message
                + "\"},\"request_id\":\"req_011CSHoEeqs5C35K2UUqR7Fy\"}").setResponseCode(status);
    }

    static JsonNode sentBody() throws Exception {
        return JSON.readTree(anthropic.takeRequest(1, TimeUnit.SECONDS).getBody().readUtf8());
    }

    static ChatCompletionCreateParams hello() {
        return ChatCompletionCreateParams.builder().model("claude").addUserMessage("Hello").build();
    }

    @Test
    void wholeAnswerReachesTheClientWithItsFinishReasonAndUsageIncludingCachedTokens() {
        anthropic.enqueue(json(fixture("message-text.json")));
        ChatCompletion c = gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(hello());

        assertThat(c.choices().get(0).message().content()).hasValue("Hi! My name is Claude.");
        assertThat(c.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
        assertThat(c.id()).isEqualTo("msg_013Zva2CMHLNnXjNJJKqJ2EF");
        assertThat(c.model()).isEqualTo("claude-sonnet-4-5-20250929");
        var usage = c.usage().orElseThrow();
        assertThat(usage.promptTokens()).isEqualTo(2095 + 1200);
        assertThat(usage.completionTokens()).isEqualTo(503);
        assertThat(usage.totalTokens()).isEqualTo(2095 + 1200 + 503);
        assertThat(usage.promptTokensDetails().orElseThrow().cachedTokens()).hasValue(1200L);
    }

    @Test
    void requestGoesToMessagesWithTheKeyVersionLiftedSystemAndDefaultMaxTokens() throws Exception {
        anthropic.enqueue(json(fixture("message-text.json")));
        HttpResponse<String> r = gateway.post("/v1/chat/completions", """
                {"model":"claude","messages":[
                   {"role":"system","content":"You are terse."},
                   {"role":"developer","content":[{"type":"text","text":"Answer in English."}]},
                   {"role":"user","content":"Hello"}],
                 "n":1,"presence_penalty":0.5,"frequency_penalty":0.1,"logprobs":false,"seed":7,
                 "response_format":{"type":"text"},"temperature":0.3,"top_p":0.9,"stop":"END","user":"user-42"}""",
                "Authorization", AUTH);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);

        RecordedRequest sent = anthropic.takeRequest(1, TimeUnit.SECONDS);
        assertThat(sent.getPath()).isEqualTo("/v1/messages");
        assertThat(sent.getHeader("x-api-key")).isEqualTo(ANTHROPIC_KEY);
        assertThat(sent.getHeader("anthropic-version")).isEqualTo("2023-06-01");
        assertThat(sent.getHeader("Authorization")).isNull();
        JsonNode body = JSON.readTree(sent.getBody().readUtf8());
        assertThat(body.get("model").asText()).isEqualTo("claude-sonnet-4-5");
        assertThat(body.get("system").asText()).contains("You are terse.", "Answer in English.");
        assertThat(body.get("max_tokens").asInt()).isEqualTo(4096);
        assertThat(body.get("messages")).hasSize(1);
        assertThat(body.at("/messages/0/role").asText()).isEqualTo("user");
        assertThat(body.at("/messages/0/content/0/text").asText()).isEqualTo("Hello");
        assertThat(body.get("stop_sequences").get(0).asText()).isEqualTo("END");
        assertThat(body.get("temperature").asDouble()).isEqualTo(0.3);
        assertThat(body.get("top_p").asDouble()).isEqualTo(0.9);
        assertThat(body.at("/metadata/user_id").asText()).isEqualTo("user-42");
        assertThat(body.has("stream")).isFalse();
        for (String refused : List.of("n", "presence_penalty", "frequency_penalty", "logprobs", "seed", "response_format",
                "stop", "user", "stream_options")) {
            assertThat(body.has(refused)).as(refused + " is not sent to Anthropic").isFalse();
        }
    }

    @Test
    void maxCompletionTokensBecomesMaxTokens() throws Exception {
        anthropic.enqueue(json(fixture("message-text.json")));
        gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(ChatCompletionCreateParams.builder()
                .model("claude").addUserMessage("Hello").maxCompletionTokens(256).build());
        assertThat(sentBody().get("max_tokens").asInt()).isEqualTo(256);
    }

    @Test
    void toolConversationBecomesToolUseAndMergedToolResultBlocks() throws Exception {
        anthropic.enqueue(json(fixture("message-text.json")));
        HttpResponse<String> r = gateway.post("/v1/chat/completions", """
                {"model":"claude","parallel_tool_calls":false,"tool_choice":"required",
                 "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather",
                           "parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}},
                          {"type":"function","function":{"name":"get_time"}}],
                 "messages":[
                   {"role":"user","content":"Weather and time in Paris?"},
                   {"role":"assistant","content":"Let me look.","tool_calls":[
                     {"id":"toolu_01","type":"function","function":{"name":"get_weather","arguments":"{\\"location\\":\\"Paris\\"}"}},
                     {"id":"toolu_02","type":"function","function":{"name":"get_time","arguments":"not json"}}]},
                   {"role":"tool","tool_call_id":"toolu_01","content":"18 degrees, sunny"},
                   {"role":"tool","tool_call_id":"toolu_02","content":[{"type":"text","text":"14:05"}]},
                   {"role":"user","content":"Thanks. Summarise."}]}""", "Authorization", AUTH);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);

        JsonNode body = sentBody();
        JsonNode messages = body.get("messages");
        assertThat(messages).hasSize(3);
        JsonNode assistant = messages.get(1);
        assertThat(assistant.get("role").asText()).isEqualTo("assistant");
        assertThat(assistant.at("/content/0/type").asText()).isEqualTo("text");
        assertThat(assistant.at("/content/0/text").asText()).isEqualTo("Let me look.");
        assertThat(assistant.at("/content/1/type").asText()).isEqualTo("tool_use");
        assertThat(assistant.at("/content/1/id").asText()).isEqualTo("toolu_01");
        assertThat(assistant.at("/content/1/name").asText()).isEqualTo("get_weather");
        assertThat(assistant.at("/content/1/input")).isEqualTo(JSON.readTree("{\"location\":\"Paris\"}"));
        assertThat(assistant.at("/content/2/input")).as("unparseable arguments").isEqualTo(JSON.readTree("{}"));

        JsonNode results = messages.get(2);
        assertThat(results.get("role").asText()).isEqualTo("user");
        assertThat(results.at("/content/0/type").asText()).isEqualTo("tool_result");
        assertThat(results.at("/content/0/tool_use_id").asText()).isEqualTo("toolu_01");
        assertThat(results.at("/content/0/content").asText()).isEqualTo("18 degrees, sunny");
        assertThat(results.at("/content/1/type").asText()).isEqualTo("tool_result");
        assertThat(results.at("/content/1/tool_use_id").asText()).isEqualTo("toolu_02");
        assertThat(results.at("/content/1/content").asText()).isEqualTo("14:05");
        assertThat(results.at("/content/2/type").asText()).as("the user's next words join the results").isEqualTo("text");

        assertThat(body.at("/tools/0/name").asText()).isEqualTo("get_weather");
        assertThat(body.at("/tools/0/description").asText()).isEqualTo("Current weather");
        assertThat(body.at("/tools/0/input_schema/required/0").asText()).isEqualTo("location");
        assertThat(body.at("/tools/1/input_schema")).isEqualTo(JSON.readTree("{\"type\":\"object\",\"properties\":{}}"));
        assertThat(body.get("tool_choice")).isEqualTo(JSON.readTree("{\"type\":\"any\",\"disable_parallel_tool_use\":true}"));
    }

    @Test
    void namedToolChoiceBecomesAnthropicsToolChoice() throws Exception {
        anthropic.enqueue(json(fixture("message-text.json")));
        gateway.post("/v1/chat/completions", """
                {"model":"claude","messages":[{"role":"user","content":"Weather?"}],
                 "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],
                 "tool_choice":{"type":"function","function":{"name":"get_weather"}}}""", "Authorization", AUTH);
        assertThat(sentBody().get("tool_choice")).isEqualTo(JSON.readTree("{\"type\":\"tool\",\"name\":\"get_weather\"}"));
    }

    @Test
    void imagePartsBecomeBase64AndUrlImageBlocks() throws Exception {
        anthropic.enqueue(json(fixture("message-text.json")));
        HttpResponse<String> r = gateway.post("/v1/chat/completions", """
                {"model":"claude","messages":[{"role":"user","content":[
                   {"type":"text","text":"Compare these."},
                   {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="}},
                   {"type":"image_url","image_url":{"url":"https://upload.wikimedia.org/ant.jpg","detail":"high"}}]}]}""",
                "Authorization", AUTH);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);

        JsonNode content = sentBody().at("/messages/0/content");
        assertThat(content.get(0)).isEqualTo(JSON.readTree("{\"type\":\"text\",\"text\":\"Compare these.\"}"));
        assertThat(content.get(1)).isEqualTo(JSON.readTree("""
                {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgoAAAANSUhEUg=="}}"""));
        assertThat(content.get(2)).isEqualTo(JSON.readTree("""
                {"type":"image","source":{"type":"url","url":"https://upload.wikimedia.org/ant.jpg"}}"""));
    }

    @Test
    void contentAnthropicCannotTakeIsTheCallersBadRequest() throws Exception {
        HttpResponse<String> r = gateway.post("/v1/chat/completions", """
                {"model":"claude","messages":[{"role":"user","content":[
                   {"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}]}]}""", "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("\"code\":\"unsupported_content\"", "input_audio");
        assertThat(anthropic.takeRequest(100, TimeUnit.MILLISECONDS)).as("nothing was sent").isNull();
    }

    @Test
    void wholeToolUseAnswerBecomesToolCallsWithJsonArgumentsAndReasoning() throws Exception {
        anthropic.enqueue(json(fixture("message-tool-use.json")));
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather in SF?\"}]}", "Authorization", AUTH);
        JsonNode message = JSON.readTree(r.body()).at("/choices/0/message");
        assertThat(message.get("content").asText()).isEqualTo("I'll check the current weather in San Francisco for you.");
        assertThat(message.get("reasoning_content").asText()).startsWith("The user wants the weather");

        anthropic.enqueue(json(fixture("message-tool-use.json")));
        ChatCompletion c = gateway.openai(TestGateway.MASTER_KEY).chat().completions()
                .create(ChatCompletionCreateParams.builder().model("claude").addUserMessage("Weather in SF?").build());
        assertThat(c.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
        List<ChatCompletionMessageToolCall> calls = c.choices().get(0).message().toolCalls().orElseThrow();
        assertThat(calls).hasSize(1);
        var function = calls.get(0).asFunction();
        assertThat(function.id()).isEqualTo("toolu_01A09q90qw90lq917835lq9");
        assertThat(function.function().name()).isEqualTo("get_weather");
        assertThat(JSON.readTree(function.function().arguments()))
                .isEqualTo(JSON.readTree("{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}"));
    }

    @Test
    void streamedTextArrivesInOrderWithFinishReasonAndUsageFromBothHalves() throws Exception {
        anthropic.enqueue(events(fixture("stream-text.sse")));
        StringBuilder text = new StringBuilder();
        List<String> finishReasons = new ArrayList<>();
        List<ChatCompletionChunk> usageChunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = gateway.openai(TestGateway.MASTER_KEY).chat().completions()
                .createStreaming(ChatCompletionCreateParams.builder().model("claude").addUserMessage("Hello")
                        .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            s.stream().forEach(chunk -> {
                assertThat(chunk.id()).isEqualTo("msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY");
                chunk.choices().forEach(choice -> {
                    choice.delta().content().ifPresent(text::append);
                    choice.finishReason().ifPresent(f -> finishReasons.add(f.asString()));
                });
                if (chunk.usage().isPresent()) {
                    usageChunks.add(chunk);
                }
            });
        }
        assertThat(text.toString()).isEqualTo("Hello!");
        assertThat(finishReasons).containsExactly("stop");
        assertThat(usageChunks).hasSize(1);
        var usage = usageChunks.get(0).usage().orElseThrow();
        assertThat(usage.promptTokens()).isEqualTo(25);
        assertThat(usage.completionTokens()).as("message_delta's count replaces message_start's").isEqualTo(15);
        assertThat(usage.totalTokens()).isEqualTo(40);

        JsonNode sent = sentBody();
        assertThat(sent.get("stream").asBoolean()).isTrue();
        assertThat(sent.has("stream_options")).isFalse();
    }

    @Test
    void aStreamedToolWithoutParametersHasEmptyObjectArguments() throws Exception {
        anthropic.enqueue(events("""
                event: message_start
                data: {"type":"message_start","message":{"id":"msg_01NoArgs","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":310,"output_tokens":1}}}

                event: content_block_start
                data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_01Clock","name":"get_current_time","input":{}}}

                event: content_block_delta
                data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}

                event: content_block_stop
                data: {"type":"content_block_stop","index":0}

                event: message_delta
                data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":28}}

                event: message_stop
                data: {"type":"message_stop"}

                """));
        ChatCompletionAccumulator accumulator = ChatCompletionAccumulator.create();
        try (StreamResponse<ChatCompletionChunk> s = gateway.openai(TestGateway.MASTER_KEY).chat().completions()
                .createStreaming(ChatCompletionCreateParams.builder().model("claude").addUserMessage("What time is it?").build())) {
            s.stream().forEach(accumulator::accumulate);
        }
        var call = accumulator.chatCompletion().choices().get(0).message().toolCalls().orElseThrow().get(0).asFunction();
        assertThat(call.function().name()).isEqualTo("get_current_time");
        assertThat(JSON.readTree(call.function().arguments())).isEqualTo(JSON.readTree("{}"));
    }

    @Test
    void streamedToolCallArgumentsArriveWholeAndValid() throws Exception {
        anthropic.enqueue(events(fixture("stream-tool-use.sse")));
        ChatCompletionAccumulator accumulator = ChatCompletionAccumulator.create();
        TreeSet<Long> toolIndexes = new TreeSet<>();
        try (StreamResponse<ChatCompletionChunk> s = gateway.openai(TestGateway.MASTER_KEY).chat().completions()
                .createStreaming(ChatCompletionCreateParams.builder().model("claude").addUserMessage("Weather and time in SF?")
                        .build())) {
            s.stream().forEach(chunk -> {
                accumulator.accumulate(chunk);
                chunk.choices().forEach(choice -> choice.delta().toolCalls()
                        .ifPresent(calls -> calls.forEach(call -> toolIndexes.add(call.index()))));
            });
        }
        ChatCompletion c = accumulator.chatCompletion();
        assertThat(c.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
        assertThat(c.choices().get(0).message().content()).hasValue("Okay, let me check.");
        assertThat(toolIndexes).as("tool calls are numbered among themselves").containsExactly(0L, 1L);
        List<ChatCompletionMessageToolCall> calls = c.choices().get(0).message().toolCalls().orElseThrow();
        assertThat(calls).hasSize(2);
        var weather = calls.get(0).asFunction();
        assertThat(weather.id()).isEqualTo("toolu_01T1x1fJ34qAmk2tNTrN7Up6");
        assertThat(weather.function().name()).isEqualTo("get_weather");
        assertThat(JSON.readTree(weather.function().arguments()))
                .isEqualTo(JSON.readTree("{\"location\":\"San Francisco, CA\",\"unit\":\"fahrenheit\"}"));
        var time = calls.get(1).asFunction();
        assertThat(time.id()).isEqualTo("toolu_01ZxWq8yV5cLkP3nRtUo2Hbm");
        assertThat(time.function().name()).isEqualTo("get_time");
        assertThat(JSON.readTree(time.function().arguments()))
                .isEqualTo(JSON.readTree("{\"timezone\":\"America/Los_Angeles\"}"));
    }

    @Test
    void streamedThinkingArrivesAsReasoningContentApartFromTheAnswer() throws Exception {
        anthropic.enqueue(events(fixture("stream-thinking.sse")));
        HttpResponse<String> r = gateway.post("/v1/chat/completions", """
                {"model":"claude","stream":true,"messages":[{"role":"user","content":"GCD of 1071 and 462?"}]}""",
                "Authorization", AUTH);
        StringBuilder reasoning = new StringBuilder();
        StringBuilder content = new StringBuilder();
        for (String line : r.body().split("\n")) {
            if (line.startsWith("data: {")) {
                JsonNode delta = JSON.readTree(line.substring(6)).at("/choices/0/delta");
                reasoning.append(delta.path("reasoning_content").asText(""));
                content.append(delta.path("content").asText(""));
            }
        }
        assertThat(reasoning.toString()).startsWith("I need to find the GCD").endsWith("147 = 7 × 21 + 0")
                .doesNotContain("EqQBCgIYAhIM");
        assertThat(content.toString()).isEqualTo("The greatest common divisor of 1071 and 462 is **21**.");
        assertThat(r.body()).endsWith("data: [DONE]\n\n");
    }

    @Test
    void errorEventMidStreamEndsTheStreamWithAnError() {
        anthropic.enqueue(events(fixture("stream-overloaded.sse")));
        StringBuilder text = new StringBuilder();
        assertThatThrownBy(() -> {
            try (StreamResponse<ChatCompletionChunk> s = gateway.openai(TestGateway.MASTER_KEY).chat().completions()
                    .createStreaming(hello())) {
                s.stream().forEach(chunk -> chunk.choices()
                        .forEach(choice -> choice.delta().content().ifPresent(text::append)));
            }
        }).isInstanceOf(OpenAIException.class).hasMessageContaining("Overloaded");
        // what the model wrote before the error still reaches the client
        assertThat(text.toString()).isEqualTo("Once upon");
    }

    @Test
    void errorEventMidStreamReachesARawClientAsAnErrorEventWithoutDone() {
        anthropic.enqueue(events(fixture("stream-overloaded.sse")));
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                "{\"model\":\"claude\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}", "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("data: {\"error\":", "\"code\":\"upstream_unavailable\"", "Overloaded")
                .doesNotContain("[DONE]");
    }

    @Test
    void overloadedAnthropicGets503() {
        anthropic.enqueue(error(529, "overloaded_error", "Overloaded"));
        assertThatThrownBy(() -> gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(hello()))
                .isInstanceOfSatisfying(OpenAIServiceException.class, e -> assertThat(e.statusCode()).isEqualTo(503));
    }

    @Test
    void rateLimitGets429WithRetryAfter() {
        anthropic.enqueue(error(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit")
                .setHeader("retry-after", "17"));
        assertThatThrownBy(() -> gateway.openai(TestGateway.MASTER_KEY).chat().completions()
                .create(ChatCompletionCreateParams.builder().model("claude-limited").addUserMessage("Hello").build()))
                .isInstanceOfSatisfying(OpenAIServiceException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(429);
                    assertThat(e.headers().values("retry-after")).containsExactly("17");
                    assertThat(e.getMessage()).contains("per-minute rate limit");
                });
    }

    @Test
    void refusedCredentialIsTheGatewaysFault502() {
        anthropic.enqueue(error(401, "authentication_error", "invalid x-api-key"));
        assertThatThrownBy(() -> gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(hello()))
                .isInstanceOfSatisfying(OpenAIServiceException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(502);
                    assertThat(e.code()).hasValue("upstream_auth_failed");
                });
    }

    @Test
    void errorBodyEchoingTheApiKeyDoesNotLeakIt() {
        anthropic.enqueue(error(400, "invalid_request_error", "Key " + ANTHROPIC_KEY + " may not use this model"));
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}", "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("may not use this model").doesNotContain(ANTHROPIC_KEY, ANTHROPIC_KEY.substring("sk-ant-api03-".length()));
        assertThat(r.headers().map().toString()).doesNotContain(ANTHROPIC_KEY);
    }

    @Test
    void promptTooLongGets400ContextLengthExceeded() {
        anthropic.enqueue(error(400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"));
        assertThatThrownBy(() -> gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(hello()))
                .isInstanceOfSatisfying(OpenAIServiceException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(400);
                    assertThat(e.code()).hasValue("context_length_exceeded");
                    assertThat(e.getMessage()).contains("prompt is too long");
                });
    }

    @Test
    void countTokensAsksAnthropicsCountingEndpointWithoutGenerationFields() throws Exception {
        anthropic.enqueue(json("{\"input_tokens\":2095}"));
        NioEventLoopGroup loops = new NioEventLoopGroup(1);
        try {
            ProviderConfig provider = new ProviderConfig("claude", "anthropic",
                    URI.create(anthropic.url("/").toString().replaceAll("/$", "")), ANTHROPIC_KEY,
                    ProviderConfig.DEFAULT_ANTHROPIC_VERSION, null, null);
            DeploymentConfig deployment = new DeploymentConfig("claude-sonnet", provider, "claude-sonnet-4-5", 1, 0,
                    null, BreakerSettings.DEFAULT);
            ObjectNode body = (ObjectNode) JSON.readTree("""
                    {"model":"claude","max_tokens":100,"temperature":0.5,"stop":["x"],"user":"u","stream":true,
                     "messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello"}],
                     "tools":[{"type":"function","function":{"name":"get_time"}}],"tool_choice":"auto"}""");
            long tokens = new AnthropicProvider(new UpstreamClient(loops))
                    .countTokens(new ChatCall("req-1", deployment, body, Map.of(), Duration.ofSeconds(5)))
                    .get(5, TimeUnit.SECONDS);
            assertThat(tokens).isEqualTo(2095);

            RecordedRequest sent = anthropic.takeRequest(1, TimeUnit.SECONDS);
            assertThat(sent.getPath()).isEqualTo("/v1/messages/count_tokens");
            assertThat(sent.getHeader("x-api-key")).isEqualTo(ANTHROPIC_KEY);
            JsonNode counted = JSON.readTree(sent.getBody().readUtf8());
            assertThat(counted.get("system").asText()).isEqualTo("Be brief.");
            assertThat(counted.has("tools")).isTrue();
            for (String absent : List.of("max_tokens", "stream", "stop_sequences", "temperature", "top_p", "metadata", "tool_choice")) {
                assertThat(counted.has(absent)).as(absent).isFalse();
            }
        } finally {
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }
}
