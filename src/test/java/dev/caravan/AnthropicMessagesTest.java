package dev.caravan;

import dev.caravan.core.Json;
import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.core.JsonValue;
import com.anthropic.core.http.StreamResponse;
import com.anthropic.errors.AnthropicServiceException;
import com.anthropic.helpers.MessageAccumulator;
import com.anthropic.models.messages.ContentBlock;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCountTokensParams;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.RawMessageStreamEvent;
import com.anthropic.models.messages.StopReason;
import com.anthropic.models.messages.Tool;
import com.anthropic.models.messages.ToolUseBlock;
import com.fasterxml.jackson.databind.JsonNode;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Anthropic's Messages API at {@code /v1/messages}, spoken by the official anthropic-java client, served by
 * deployments that speak other wires: the built-in mock and an OpenAI-wire upstream (fixtures in OpenAI's format).
 */
class AnthropicMessagesTest {

    @RegisterExtension
    static final UpstreamFixture upstreams = new UpstreamFixture();
    static MockWebServer openai;
    static MockWebServer anthropic;
    static TestGateway gateway;
    static AnthropicClient claude;

    @BeforeAll
    static void start() throws Exception {
        openai = upstreams.server();
        anthropic = upstreams.server();
        gateway = upstreams.gateway("""
                providers:
                  mock: { type: mock }
                  oai: { type: openai, baseUrl: "%s" }
                  claude: { type: anthropic, baseUrl: "%s" }
                routing: { retries: 0 }
                models:
                  - name: mock-gpt
                    deployments: [ { provider: mock, model: mock-gpt } ]
                  - name: gpt-4o
                    deployments: [ { provider: oai, model: gpt-4o-2024-08-06 } ]
                  - name: gpt-4o-limited          # its own deployment: a 429 cools it down, not gpt-4o
                    deployments: [ { id: oai-limited, provider: oai, model: gpt-4o-2024-08-06 } ]
                  - name: claude-sonnet
                    deployments: [ { provider: claude, model: claude-sonnet-4-5 } ]
                """.formatted(openai.url("/v1").toString().replaceAll("/$", ""),
                UpstreamFixture.root(anthropic)));
        claude = client(TestGateway.MASTER_KEY);
    }

    static AnthropicClient client(String key) {
        return AnthropicOkHttpClient.builder().baseUrl(gateway.baseUrl()).apiKey(key).maxRetries(0)
                .timeout(Duration.ofSeconds(20)).build();
    }

    @Test
    void claudeClientGetsAMessageFromTheMockProvider() {
        Message m = claude.messages().create(MessageCreateParams.builder().model("mock-gpt").maxTokens(200)
                .system("Be brief.").addUserMessage("hello there").build());
        assertThat(m.id()).startsWith("msg_");
        assertThat(m.content()).hasSize(1);
        assertThat(m.content().get(0).asText().text()).startsWith("Mock reply to \"hello there\":");
        assertThat(m.stopReason()).hasValue(StopReason.END_TURN);
        assertThat(m.usage().inputTokens()).isPositive();
        assertThat(m.usage().outputTokens()).isPositive();
    }

    @Test
    void maxTokensReachedIsStopReasonMaxTokens() {
        Message m = claude.messages().create(MessageCreateParams.builder().model("mock-gpt").maxTokens(3)
                .addUserMessage("hello there").build());
        assertThat(m.stopReason()).hasValue(StopReason.MAX_TOKENS);
        assertThat(m.usage().outputTokens()).isEqualTo(3);
    }

    @Test
    void claudeClientStreamsFromTheMockProvider() {
        MessageAccumulator acc = MessageAccumulator.create();
        try (StreamResponse<RawMessageStreamEvent> stream = claude.messages().createStreaming(
                MessageCreateParams.builder().model("mock-gpt").maxTokens(200).addUserMessage("stream please").build())) {
            stream.stream().forEach(acc::accumulate);
        }
        Message m = acc.message();
        assertThat(m.content().get(0).asText().text()).startsWith("Mock reply to \"stream please\":");
        assertThat(m.stopReason()).hasValue(StopReason.END_TURN);
        assertThat(m.usage().outputTokens()).isPositive();
    }

    @Test
    void countTokensAnswersWithAnEstimateForAProviderWithoutACountingEndpoint() throws Exception {
        long small = claude.messages().countTokens(MessageCountTokensParams.builder().model("mock-gpt")
                .addUserMessage("hi").build()).inputTokens();
        long large = claude.messages().countTokens(MessageCountTokensParams.builder().model("mock-gpt")
                .addUserMessage("hi ".repeat(500)).build()).inputTokens();
        assertThat(small).isBetween(5L, 20L);
        assertThat(large).isGreaterThan(small + 400);
        HttpResponse<String> raw = gateway.post("/v1/messages/count_tokens",
                "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "x-api-key", TestGateway.MASTER_KEY);
        JsonNode body = Json.MAPPER.readTree(raw.body());
        assertThat(body.path("caravan_estimated").asBoolean()).isTrue();
    }

    @Test
    void errorsOnMessagesComeInAnthropicsShape() throws Exception {
        HttpResponse<String> noKey = gateway.post("/v1/messages",
                "{\"model\":\"mock-gpt\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertAnthropicError(noKey, 401, "authentication_error");
        HttpResponse<String> noMax = gateway.post("/v1/messages",
                "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "x-api-key", TestGateway.MASTER_KEY);
        assertAnthropicError(noMax, 400, "invalid_request_error");
        assertThat(noMax.body()).contains("max_tokens");
        HttpResponse<String> badJson = gateway.post("/v1/messages", "{\"model\":", "x-api-key", TestGateway.MASTER_KEY);
        assertAnthropicError(badJson, 400, "invalid_request_error");
        HttpResponse<String> unknown = gateway.post("/v1/messages",
                "{\"model\":\"nope\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "x-api-key", TestGateway.MASTER_KEY);
        assertAnthropicError(unknown, 404, "not_found_error");

        assertThatThrownBy(() -> client("sk-wrong-key-000000000000").messages().create(MessageCreateParams.builder()
                .model("mock-gpt").maxTokens(10).addUserMessage("hi").build()))
                .isInstanceOfSatisfying(AnthropicServiceException.class, e -> assertThat(e.statusCode()).isEqualTo(401));
    }

    static void assertAnthropicError(HttpResponse<String> response, int status, String type) throws Exception {
        assertThat(response.statusCode()).isEqualTo(status);
        JsonNode body = Json.MAPPER.readTree(response.body());
        assertThat(body.path("type").asText()).isEqualTo("error");
        assertThat(body.path("error").path("type").asText()).isEqualTo(type);
        assertThat(body.path("error").path("message").asText()).isNotBlank();
    }

    @Test
    void openAiDeploymentServesAClaudeClientWithAToolCall() throws Exception {
        openai.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"chatcmpl-abc","object":"chat.completion","created":1732000000,"model":"gpt-4o-2024-08-06",
                 "choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,
                   "tool_calls":[{"id":"call_Wx1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\",\\"unit\\":\\"c\\"}"}}]}}],
                 "usage":{"prompt_tokens":80,"completion_tokens":17,"total_tokens":97,"prompt_tokens_details":{"cached_tokens":64}}}"""));
        Message m = claude.messages().create(MessageCreateParams.builder().model("gpt-4o").maxTokens(300)
                .system("You are a weather bot.").addTool(weatherTool()).addUserMessage("Weather in Paris?").build());
        ToolUseBlock use = m.content().get(0).asToolUse();
        assertThat(use.name()).isEqualTo("get_weather");
        assertThat(use.id()).isEqualTo("call_Wx1");
        assertThat(Json.MAPPER.readTree(Json.MAPPER.writeValueAsString(use._input())).path("city").asText()).isEqualTo("Paris");
        assertThat(m.stopReason()).hasValue(StopReason.TOOL_USE);
        assertThat(m.usage().inputTokens()).isEqualTo(16);
        assertThat(m.usage().cacheReadInputTokens()).hasValue(64L);
        assertThat(m.usage().outputTokens()).isEqualTo(17);

        RecordedRequest sent = openai.takeRequest(1, TimeUnit.SECONDS);
        JsonNode body = Json.MAPPER.readTree(sent.getBody().readUtf8());
        assertThat(body.path("model").asText()).isEqualTo("gpt-4o-2024-08-06");
        // OpenAI's reasoning models refuse max_tokens: the limit travels as max_completion_tokens
        assertThat(body.path("max_completion_tokens").asInt()).isEqualTo(300);
        assertThat(body.has("max_tokens")).isFalse();
        assertThat(body.path("messages").get(0).path("role").asText()).isEqualTo("system");
        assertThat(body.path("messages").get(0).path("content").asText()).isEqualTo("You are a weather bot.");
        assertThat(body.path("tools").get(0).path("function").path("name").asText()).isEqualTo("get_weather");
        assertThat(body.path("tools").get(0).path("function").path("parameters").path("properties").has("city")).isTrue();
    }

    @Test
    void toolResultsAndImagesReachAnOpenAiDeploymentInItsShape() throws Exception {
        openai.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"chatcmpl-2","object":"chat.completion","created":1,"model":"gpt-4o",
                 "choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"It is 18 C."}}],
                 "usage":{"prompt_tokens":120,"completion_tokens":6,"total_tokens":126}}"""));
        String request = """
                {"model":"gpt-4o","max_tokens":100,"messages":[
                  {"role":"user","content":[{"type":"text","text":"What is in this image, and the weather?"},
                    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},
                  {"role":"assistant","content":[{"type":"text","text":"Let me check."},
                    {"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}}]},
                  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"18 C, sunny"},
                    {"type":"text","text":"Thanks"}]}],
                 "tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],
                 "tool_choice":{"type":"any","disable_parallel_tool_use":true},"stop_sequences":["END"],"top_k":5}""";
        HttpResponse<String> response = gateway.post("/v1/messages", request, "x-api-key", TestGateway.MASTER_KEY,
                "anthropic-version", "2023-06-01");
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode answer = Json.MAPPER.readTree(response.body());
        assertThat(answer.path("content").get(0).path("text").asText()).isEqualTo("It is 18 C.");

        JsonNode sent = Json.MAPPER.readTree(openai.takeRequest(1, TimeUnit.SECONDS).getBody().readUtf8());
        JsonNode messages = sent.path("messages");
        assertThat(messages.get(0).path("content").get(1).path("image_url").path("url").asText())
                .isEqualTo("data:image/png;base64,iVBORw0KGgo=");
        assertThat(messages.get(1).path("tool_calls").get(0).path("function").path("arguments").asText())
                .isEqualTo("{\"city\":\"Paris\"}");
        assertThat(messages.get(2).path("role").asText()).isEqualTo("tool");
        assertThat(messages.get(2).path("tool_call_id").asText()).isEqualTo("toolu_01");
        assertThat(messages.get(2).path("content").asText()).isEqualTo("18 C, sunny");
        assertThat(messages.get(3).path("content").asText()).isEqualTo("Thanks");
        assertThat(sent.path("tool_choice").asText()).isEqualTo("required");
        assertThat(sent.path("parallel_tool_calls").asBoolean(true)).isFalse();
        assertThat(sent.path("stop").get(0).asText()).isEqualTo("END");
        assertThat(sent.has("top_k")).isFalse();
    }

    @Test
    void streamedToolCallArgumentsFromAnOpenAiDeploymentArriveWholeAndValid() throws Exception {
        openai.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(sse(
                "{\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Checking\"},\"finish_reason\":null}]}",
                "{\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}",
                "{\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"ci\"}}]},\"finish_reason\":null}]}",
                "{\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ty\\\": \\\"Par\"}}]},\"finish_reason\":null}]}",
                "{\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"is\\\"}\"}}]},\"finish_reason\":null}]}",
                "{\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{\\\"tz\\\":\"}}]},\"finish_reason\":null}]}",
                "{\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"\\\"CET\\\"}\"}}]},\"finish_reason\":null}]}",
                "{\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
                "{\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":21,\"total_tokens\":71}}",
                "[DONE]")));
        MessageAccumulator acc = MessageAccumulator.create();
        try (StreamResponse<RawMessageStreamEvent> stream = claude.messages().createStreaming(
                MessageCreateParams.builder().model("gpt-4o").maxTokens(300).addTool(weatherTool())
                        .addUserMessage("Weather and time in Paris?").build())) {
            stream.stream().forEach(acc::accumulate);
        }
        Message m = acc.message();
        List<ContentBlock> content = m.content();
        assertThat(content).hasSize(3);
        assertThat(content.get(0).asText().text()).isEqualTo("Checking");
        ToolUseBlock weather = content.get(1).asToolUse();
        assertThat(weather.name()).isEqualTo("get_weather");
        JsonNode input = Json.MAPPER.readTree(Json.MAPPER.writeValueAsString(weather._input()));
        assertThat(input.path("city").asText()).isEqualTo("Paris");
        ToolUseBlock time = content.get(2).asToolUse();
        assertThat(Json.MAPPER.readTree(Json.MAPPER.writeValueAsString(time._input())).path("tz").asText()).isEqualTo("CET");
        assertThat(m.stopReason()).hasValue(StopReason.TOOL_USE);
        assertThat(m.usage().outputTokens()).isEqualTo(21);

        JsonNode sent = Json.MAPPER.readTree(openai.takeRequest(1, TimeUnit.SECONDS).getBody().readUtf8());
        assertThat(sent.path("stream").asBoolean()).isTrue();
        assertThat(sent.path("stream_options").path("include_usage").asBoolean()).isTrue();
    }

    @Test
    void anUpstreamStreamWithoutUsageGetsAnEstimateMarkedAsSuch() throws Exception {
        openai.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(sse(
                "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello there, how are you today?\"},\"finish_reason\":null}]}",
                "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
                "[DONE]")));
        HttpResponse<String> response = gateway.post("/v1/messages",
                "{\"model\":\"gpt-4o\",\"max_tokens\":50,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}",
                "x-api-key", TestGateway.MASTER_KEY);
        assertThat(response.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
        String body = response.body();
        assertThat(body).contains("event: message_start", "event: content_block_delta", "event: message_stop");
        String delta = body.lines().filter(l -> l.startsWith("data: ") && l.contains("\"message_delta\"")).findFirst().orElseThrow();
        JsonNode usage = Json.MAPPER.readTree(delta.substring(6)).path("usage");
        assertThat(usage.path("output_tokens").asLong()).isBetween(5L, 12L);
        assertThat(usage.path("caravan_estimated").asBoolean()).isTrue();
    }

    @Test
    void anUpstreamFailureBeforeTheStreamIsAnAnthropicErrorWithItsStatus() throws Exception {
        openai.enqueue(new MockResponse().setResponseCode(429).setHeader("Retry-After", "7")
                .setHeader("Content-Type", "application/json")
                .setBody("{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}"));
        HttpResponse<String> response = gateway.post("/v1/messages",
                "{\"model\":\"gpt-4o-limited\",\"max_tokens\":50,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "x-api-key", TestGateway.MASTER_KEY);
        assertAnthropicError(response, 429, "rate_limit_error");
        assertThat(response.headers().firstValue("retry-after")).hasValue("7");
    }

    @Test
    void anthropicDeploymentStreamsAToolCallToAClaudeClientWholeAndValid() throws Exception {
        anthropic.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream")
                .setBody(AnthropicUpstreamTest.fixture("stream-tool-use.sse")));
        MessageAccumulator acc = MessageAccumulator.create();
        try (StreamResponse<RawMessageStreamEvent> stream = claude.messages().createStreaming(
                MessageCreateParams.builder().model("claude-sonnet").maxTokens(1024).addTool(weatherTool())
                        .addUserMessage("What is the weather in San Francisco?").build())) {
            stream.stream().forEach(acc::accumulate);
        }
        Message m = acc.message();
        assertThat(m.content().get(0).asText().text()).isEqualTo("Okay, let me check.");
        ToolUseBlock use = m.content().get(1).asToolUse();
        assertThat(use.id()).isEqualTo("toolu_01T1x1fJ34qAmk2tNTrN7Up6");
        assertThat(use.name()).isEqualTo("get_weather");
        JsonNode input = Json.MAPPER.readTree(Json.MAPPER.writeValueAsString(use._input()));
        assertThat(input.path("location").asText()).isEqualTo("San Francisco, CA");
        assertThat(input.path("unit").asText()).isEqualTo("fahrenheit");
        assertThat(m.stopReason()).hasValue(StopReason.TOOL_USE);
        assertThat(m.usage().inputTokens()).isEqualTo(472);

        RecordedRequest sent = anthropic.takeRequest(1, TimeUnit.SECONDS);
        assertThat(sent.getPath()).isEqualTo("/v1/messages");
        JsonNode body = Json.MAPPER.readTree(sent.getBody().readUtf8());
        assertThat(body.path("model").asText()).isEqualTo("claude-sonnet-4-5");
        assertThat(body.path("max_tokens").asInt()).isEqualTo(1024);
        assertThat(body.path("stream").asBoolean()).isTrue();
        assertThat(body.path("tools").get(0).path("input_schema").path("properties").has("city")).isTrue();
    }

    @Test
    void anthropicDeploymentAnswersAClaudeClientWhole() throws Exception {
        anthropic.enqueue(new MockResponse().setHeader("Content-Type", "application/json")
                .setBody(AnthropicUpstreamTest.fixture("message-text.json")));
        Message m = claude.messages().create(MessageCreateParams.builder().model("claude-sonnet").maxTokens(100)
                .system("Be brief.").addUserMessage("Hello").build());
        assertThat(m.content().get(0).asText().text()).isNotBlank();
        assertThat(m.stopReason()).hasValue(StopReason.END_TURN);
        JsonNode sent = Json.MAPPER.readTree(anthropic.takeRequest(1, TimeUnit.SECONDS).getBody().readUtf8());
        assertThat(sent.path("system").toString()).contains("Be brief.");
    }

    @Test
    void countTokensAsksAnAnthropicDeploymentsCountingEndpoint() throws Exception {
        anthropic.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("{\"input_tokens\":2095}"));
        long tokens = claude.messages().countTokens(MessageCountTokensParams.builder().model("claude-sonnet")
                .addUserMessage("Hello, Claude").build()).inputTokens();
        assertThat(tokens).isEqualTo(2095);
        RecordedRequest sent = anthropic.takeRequest(1, TimeUnit.SECONDS);
        assertThat(sent.getPath()).isEqualTo("/v1/messages/count_tokens");
    }

    @Test
    void anOverloadedAnthropicDeploymentIsA503OverloadedErrorForTheClaudeClient() throws Exception {
        anthropic.enqueue(new MockResponse().setResponseCode(529).setHeader("Content-Type", "application/json")
                .setBody("{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}"));
        HttpResponse<String> response = gateway.post("/v1/messages",
                "{\"model\":\"claude-sonnet\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "x-api-key", TestGateway.MASTER_KEY);
        assertAnthropicError(response, 503, "overloaded_error");
        assertThat(response.body()).contains("Overloaded");
    }

    @Test
    void claudeClientListsTheModelsItsKeyMayUse() {
        List<String> ids = claude.models().list().data().stream().map(m -> m.id()).toList();
        assertThat(ids).contains("mock-gpt", "gpt-4o", "claude-sonnet");
        assertThat(claude.models().retrieve("claude-sonnet").displayName()).isEqualTo("claude-sonnet");
    }

    @Test
    void interleavedParallelToolCallsFromAnOpenAiDeploymentComeOutAsWholeSeparateBlocks() throws Exception {
        String head = "{\"id\":\"chatcmpl-p\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":";
        openai.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(sse(
                head + "{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}},{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}",
                head + "{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{\\\"tz\\\":\"}}]},\"finish_reason\":null}]}",
                head + "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}]}",
                head + "{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"\\\"CET\\\"}\"}}]},\"finish_reason\":null}]}",
                head + "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Rome\\\"}\"}}]},\"finish_reason\":null}]}",
                head + "{},\"finish_reason\":\"tool_calls\"}]}",
                "[DONE]")));
        MessageAccumulator acc = MessageAccumulator.create();
        try (StreamResponse<RawMessageStreamEvent> stream = claude.messages().createStreaming(
                MessageCreateParams.builder().model("gpt-4o").maxTokens(300).addTool(weatherTool())
                        .addUserMessage("Weather and time in Rome?").build())) {
            stream.stream().forEach(acc::accumulate);
        }
        List<ContentBlock> content = acc.message().content();
        assertThat(content).hasSize(2);
        ToolUseBlock weather = content.get(0).asToolUse();
        ToolUseBlock time = content.get(1).asToolUse();
        assertThat(weather.id()).isEqualTo("call_a");
        assertThat(weather.name()).isEqualTo("get_weather");
        assertThat(Json.MAPPER.readTree(Json.MAPPER.writeValueAsString(weather._input())).path("city").asText()).isEqualTo("Rome");
        assertThat(time.id()).isEqualTo("call_b");
        assertThat(time.name()).isEqualTo("get_time");
        assertThat(Json.MAPPER.readTree(Json.MAPPER.writeValueAsString(time._input())).path("tz").asText()).isEqualTo("CET");
    }

    @Test
    void anEmptyUpstreamStreamIsStillAWellFormedMessageForTheClaudeClient() {
        openai.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(sse("[DONE]")));
        MessageAccumulator acc = MessageAccumulator.create();
        try (StreamResponse<RawMessageStreamEvent> stream = claude.messages().createStreaming(
                MessageCreateParams.builder().model("gpt-4o").maxTokens(30).addUserMessage("hi").build())) {
            stream.stream().forEach(acc::accumulate);
        }
        assertThat(acc.message().content()).isEmpty();
        assertThat(acc.message().stopReason()).hasValue(StopReason.END_TURN);
    }

    @Test
    void imagesATookReturnedAndPdfDocumentsReachAnOpenAiDeployment() throws Exception {
        openai.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"chatcmpl-3","object":"chat.completion","created":1,"model":"gpt-4o",
                 "choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":null,"refusal":"I can't help with that."}}],
                 "usage":{"prompt_tokens":300,"completion_tokens":6,"total_tokens":306}}"""));
        String request = """
                {"model":"gpt-4o","max_tokens":100,"messages":[
                  {"role":"user","content":"Take a screenshot"},
                  {"role":"assistant","content":[{"type":"tool_use","id":"toolu_9","name":"screenshot","input":{}}]},
                  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_9","content":[
                      {"type":"text","text":"done"},
                      {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},
                    {"type":"document","title":"spec.pdf","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQ="}},
                    {"type":"text","text":"Compare them"}]}]}""";
        HttpResponse<String> response = gateway.post("/v1/messages", request, "x-api-key", TestGateway.MASTER_KEY);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode answer = Json.MAPPER.readTree(response.body());
        assertThat(answer.path("content").get(0).path("text").asText()).isEqualTo("I can't help with that.");
        assertThat(answer.path("stop_reason").asText()).isEqualTo("refusal");

        JsonNode messages = Json.MAPPER.readTree(openai.takeRequest(1, TimeUnit.SECONDS).getBody().readUtf8()).path("messages");
        assertThat(messages.get(2).path("role").asText()).isEqualTo("tool");
        assertThat(messages.get(2).path("content").asText()).isEqualTo("done");
        assertThat(messages.get(3).path("role").asText()).isEqualTo("user");
        assertThat(messages.get(3).path("content").get(1).path("image_url").path("url").asText())
                .isEqualTo("data:image/png;base64,iVBORw0KGgo=");
        JsonNode last = messages.get(4).path("content");
        assertThat(last.get(0).path("file").path("file_data").asText()).isEqualTo("data:application/pdf;base64,JVBERi0xLjQ=");
        assertThat(last.get(0).path("file").path("filename").asText()).isEqualTo("spec.pdf");
        assertThat(last.get(1).path("text").asText()).isEqualTo("Compare them");
    }

    static Tool weatherTool() {
        return Tool.builder().name("get_weather").description("Current weather for a city")
                .inputSchema(Tool.InputSchema.builder()
                        .properties(JsonValue.from(Map.of("city", Map.of("type", "string"))))
                        .required(List.of("city")).build())
                .build();
    }

    static String sse(String... data) {
        StringBuilder out = new StringBuilder();
        for (String d : data) {
            out.append("data: ").append(d).append("\n\n");
        }
        return out.toString();
    }
}
