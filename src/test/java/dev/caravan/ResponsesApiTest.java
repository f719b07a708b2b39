package dev.caravan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.NotFoundException;
import com.openai.helpers.ResponseAccumulator;
import com.openai.models.responses.FunctionTool;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseOutputItem;
import com.openai.models.responses.ResponseStreamEvent;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * OpenAI's Responses API through the official client, served by an OpenAI-wire upstream through the canonical chat
 * request: text, tool calls and their round trip (by items and by previous_response_id), streaming with the SDK's
 * own accumulator, structured output, stored responses read and deleted by their owner only.
 */
class ResponsesApiTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String OTHER_KEY = "sk-responses-other-0123456789";

    @RegisterExtension
    static final UpstreamFixture upstreams = new UpstreamFixture();
    static final List<JsonNode> seen = new CopyOnWriteArrayList<>();
    static TestGateway gateway;

    /** A chat upstream: calls get_weather when offered it and no tool has answered yet; else answers in text. */
    static MockResponse answer(RecordedRequest request) {
        try {
            JsonNode body = JSON.readTree(request.getBody().readUtf8());
            seen.add(body);
            JsonNode messages = body.path("messages");
            JsonNode last = messages.get(messages.size() - 1);
            boolean stream = body.path("stream").asBoolean(false);
            boolean callTool = body.has("tools") && !"tool".equals(last.path("role").asText());
            String text = "tool".equals(last.path("role").asText()) ? "It is sunny in Paris."
                    : body.path("response_format").path("type").asText().equals("json_schema") ? "{\"city\":\"Paris\",\"celsius\":21}"
                    : "Hello: " + last.path("content").asText();
            if (!stream) {
                ObjectNode message = JSON.createObjectNode().put("role", "assistant");
                if (callTool) {
                    message.putNull("content");
                    ObjectNode call = message.putArray("tool_calls").addObject().put("id", "call_1").put("type", "function");
                    call.putObject("function").put("name", "get_weather").put("arguments", "{\"city\":\"Paris\"}");
                } else {
                    message.put("content", text);
                }
                ObjectNode out = JSON.createObjectNode().put("id", "chatcmpl-1").put("object", "chat.completion")
                        .put("created", 1700000000).put("model", "gpt-4o-mini");
                out.putArray("choices").addObject().put("index", 0).put("finish_reason", callTool ? "tool_calls" : "stop")
                        .set("message", message);
                out.putObject("usage").put("prompt_tokens", 12).put("completion_tokens", 7).put("total_tokens", 19);
                return new MockResponse().setHeader("Content-Type", "application/json").setBody(out.toString());
            }
            StringBuilder sse = new StringBuilder();
            String head = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[";
            if (callTool) {
                sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n");
                sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n");
                sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}}]}\n\n");
                sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n");
            } else {
                sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n");
                for (String piece : text.split("(?<= )")) {
                    sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{\"content\":")
                            .append(JSON.writeValueAsString(piece)).append("}}]}\n\n");
                }
                sse.append("data: ").append(head).append("{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
            }
            sse.append("data: ").append(head).append("],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,\"total_tokens\":19}}\n\n");
            sse.append("data: [DONE]\n\n");
            return new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(sse.toString());
        } catch (Exception e) {
            return new MockResponse().setResponseCode(500).setBody(e.toString());
        }
    }

    @BeforeAll
    static void start() throws Exception {
        var upstream = upstreams.server(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
                return answer(request);
            }
        });
        gateway = upstreams.gateway("""
                providers:
                  up: { type: openai, baseUrl: "%s" }
                models:
                  - name: gpt-4o-mini
                    deployments: [ { provider: up, model: gpt-4o-mini, price: { input: 1, output: 2 } } ]
                keys:
                  - { id: other, sha256: "%s" }
                """.formatted(upstream.url("/v1"), java.util.HexFormat.of().formatHex(
                dev.caravan.auth.KeyAuthenticator.sha256(OTHER_KEY))), Map.of());
    }

    static FunctionTool weatherTool() {
        return FunctionTool.builder().name("get_weather").description("The weather in a city").strict(false)
                .parameters(FunctionTool.Parameters.builder()
                        .putAdditionalProperty("type", JsonValue.from("object"))
                        .putAdditionalProperty("properties", JsonValue.from(Map.of("city", Map.of("type", "string"))))
                        .putAdditionalProperty("required", JsonValue.from(List.of("city"))).build())
                .build();
    }

    static String text(Response response) {
        StringBuilder out = new StringBuilder();
        for (ResponseOutputItem item : response.output()) {
            if (item.isMessage()) {
                item.asMessage().content().forEach(c -> out.append(c.asOutputText().text()));
            }
        }
        return out.toString();
    }

    @Test
    void aStringInputGetsAResponseWithOutputTextAndUsage() {
        seen.clear();
        Response r = upstreams.openai().responses().create(ResponseCreateParams.builder().model("gpt-4o-mini")
                .instructions("Be brief.").input("Hi there").maxOutputTokens(40).build());
        assertThat(r.id()).startsWith("resp_");
        assertThat(text(r)).isEqualTo("Hello: Hi there");
        assertThat(r.usage()).hasValueSatisfying(u -> {
            assertThat(u.inputTokens()).isEqualTo(12);
            assertThat(u.outputTokens()).isEqualTo(7);
            assertThat(u.totalTokens()).isEqualTo(19);
        });
        JsonNode sent = seen.get(0);
        assertThat(sent.path("messages").get(0).path("role").asText()).isEqualTo("system");
        assertThat(sent.path("messages").get(0).path("content").asText()).isEqualTo("Be brief.");
        assertThat(sent.path("max_tokens").asInt(sent.path("max_completion_tokens").asInt())).isEqualTo(40);
    }

    @Test
    void aToolCallAndItsOutputRoundTripThroughPreviousResponseId() {
        Response first = upstreams.openai().responses().create(ResponseCreateParams.builder().model("gpt-4o-mini")
                .input("What is the weather in Paris?").addTool(weatherTool()).build());
        ResponseOutputItem call = first.output().get(0);
        assertThat(call.isFunctionCall()).isTrue();
        assertThat(call.asFunctionCall().name()).isEqualTo("get_weather");
        assertThat(call.asFunctionCall().arguments()).isEqualTo("{\"city\":\"Paris\"}");
        String callId = call.asFunctionCall().callId();

        seen.clear();
        HttpResponse<String> second = gateway.post("/v1/responses", """
                {"model":"gpt-4o-mini","previous_response_id":"%s",
                 "tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}],
                 "input":[{"type":"function_call_output","call_id":"%s","output":"{\\"sky\\":\\"sunny\\"}"}]}
                """.formatted(first.id(), callId), "Authorization", "Bearer " + TestGateway.MASTER_KEY,
                "Content-Type", "application/json");
        assertThat(second.statusCode()).as(second.body()).isEqualTo(200);
        assertThat(second.body()).contains("It is sunny in Paris.").contains("\"previous_response_id\":\"" + first.id() + "\"");
        JsonNode messages = seen.get(0).path("messages");
        assertThat(messages.toString()).contains("What is the weather in Paris?");
        assertThat(messages.get(1).path("tool_calls").get(0).path("id").asText()).isEqualTo(callId);
        assertThat(messages.get(2).path("role").asText()).isEqualTo("tool");
        assertThat(messages.get(2).path("tool_call_id").asText()).isEqualTo(callId);
    }

    @Test
    void inputItemsCarryTheWholeConversationWithoutAStoredResponse() throws Exception {
        HttpResponse<String> r = gateway.post("/v1/responses", """
                {"model":"gpt-4o-mini","store":false,"input":[
                  {"role":"user","content":[{"type":"input_text","text":"Weather in Paris?"},
                                            {"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo="}]},
                  {"type":"function_call","call_id":"c9","name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"},
                  {"type":"function_call_output","call_id":"c9","output":"sunny"}]}
                """, "Authorization", "Bearer " + TestGateway.MASTER_KEY, "Content-Type", "application/json");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode answer = JSON.readTree(r.body());
        assertThat(answer.path("output_text").asText()).isEqualTo("It is sunny in Paris.");
        assertThat(gateway.get("/v1/responses/" + answer.path("id").asText(), "Authorization", "Bearer " + TestGateway.MASTER_KEY)
                .statusCode()).as("store: false keeps nothing").isEqualTo(404);
    }

    @Test
    void aStreamFollowsTheResponsesEventSequenceTheSdkAccumulates() {
        List<String> types = new ArrayList<>();
        ResponseAccumulator accumulator = ResponseAccumulator.create();
        try (StreamResponse<ResponseStreamEvent> stream = upstreams.openai().responses().createStreaming(
                ResponseCreateParams.builder().model("gpt-4o-mini").input("stream me").build())) {
            stream.stream().forEach(e -> {
                accumulator.accumulate(e);
                types.add(e.toString().replaceAll("\\{.*", ""));
            });
        }
        Response r = accumulator.response();
        assertThat(text(r)).isEqualTo("Hello: stream me");
        assertThat(r.usage()).hasValueSatisfying(u -> assertThat(u.totalTokens()).isEqualTo(19));
        HttpResponse<String> raw = gateway.post("/v1/responses", "{\"model\":\"gpt-4o-mini\",\"input\":\"x\",\"stream\":true}",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY, "Content-Type", "application/json");
        List<String> events = raw.body().lines().filter(l -> l.startsWith("event: ")).map(l -> l.substring(7)).toList();
        assertThat(events).startsWith("response.created", "response.in_progress", "response.output_item.added",
                "response.content_part.added", "response.output_text.delta");
        assertThat(events).endsWith("response.output_text.done", "response.content_part.done",
                "response.output_item.done", "response.completed");
    }

    @Test
    void aStreamedToolCallArrivesAsArgumentDeltas() {
        ResponseAccumulator accumulator = ResponseAccumulator.create();
        try (StreamResponse<ResponseStreamEvent> stream = upstreams.openai().responses().createStreaming(
                ResponseCreateParams.builder().model("gpt-4o-mini").input("Weather in Paris?").addTool(weatherTool()).build())) {
            stream.stream().forEach(accumulator::accumulate);
        }
        ResponseOutputItem call = accumulator.response().output().get(0);
        assertThat(call.asFunctionCall().name()).isEqualTo("get_weather");
        assertThat(call.asFunctionCall().arguments()).isEqualTo("{\"city\":\"Paris\"}");
        HttpResponse<String> raw = gateway.post("/v1/responses", """
                {"model":"gpt-4o-mini","input":"Weather?","stream":true,
                 "tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]}""",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY, "Content-Type", "application/json");
        assertThat(raw.body()).contains("event: response.function_call_arguments.delta")
                .contains("event: response.function_call_arguments.done");
    }

    @Test
    void structuredOutputAsksTheUpstreamForItsJsonSchema() throws Exception {
        seen.clear();
        HttpResponse<String> r = gateway.post("/v1/responses", """
                {"model":"gpt-4o-mini","input":"Paris weather as JSON",
                 "text":{"format":{"type":"json_schema","name":"weather","strict":true,
                   "schema":{"type":"object","properties":{"city":{"type":"string"},"celsius":{"type":"number"}},
                             "required":["city","celsius"],"additionalProperties":false}}}}""",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY, "Content-Type", "application/json");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(JSON.readTree(r.body()).path("output_text").asText()).path("celsius").asInt()).isEqualTo(21);
        JsonNode format = seen.get(0).path("response_format");
        assertThat(format.path("type").asText()).isEqualTo("json_schema");
        assertThat(format.path("json_schema").path("name").asText()).isEqualTo("weather");
        assertThat(format.path("json_schema").path("schema").path("required").toString()).contains("celsius");
    }

    @Test
    void aStoredResponseIsReadAndDeletedByItsOwnerOnly() {
        Response r = upstreams.openai().responses().create(ResponseCreateParams.builder().model("gpt-4o-mini")
                .input("keep me").build());
        Response again = upstreams.openai().responses().retrieve(r.id());
        assertThat(text(again)).isEqualTo("Hello: keep me");
        assertThatThrownBy(() -> gateway.openai(OTHER_KEY).responses().retrieve(r.id()))
                .isInstanceOf(NotFoundException.class);
        HttpResponse<String> stranger = gateway.post("/v1/responses",
                "{\"model\":\"gpt-4o-mini\",\"input\":\"x\",\"previous_response_id\":\"" + r.id() + "\"}",
                "Authorization", "Bearer " + OTHER_KEY, "Content-Type", "application/json");
        assertThat(stranger.statusCode()).isEqualTo(404);
        assertThat(stranger.body()).contains("\"param\":\"previous_response_id\"");
        upstreams.openai().responses().delete(r.id());
        assertThatThrownBy(() -> upstreams.openai().responses().retrieve(r.id())).isInstanceOf(NotFoundException.class);
    }

    @Test
    void aRequestWithoutInputIsA400NamingIt() { // a hosted tool's 400 (on a model without OpenAI deployments): PassThroughTest
        HttpResponse<String> none = gateway.post("/v1/responses", "{\"model\":\"gpt-4o-mini\"}",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY, "Content-Type", "application/json");
        assertThat(none.body()).contains("\"param\":\"input\"");
    }
}
