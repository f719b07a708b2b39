package dev.caravan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.core.JsonValue;
import com.openai.models.responses.FunctionTool;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseOutputItem;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Responses API served by the Anthropic and Gemini families: the same canonical request, each provider's own
 * wire format upstream (in-test servers speaking Messages and generateContent), a text answer and a tool call back
 * in the Responses shape through openai-java.
 */
class ResponsesAcrossProvidersTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final UpstreamFixture upstreams = new UpstreamFixture();
    static MockWebServer anthropic;
    static MockWebServer gemini;
    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        anthropic = upstreams.server();
        gemini = upstreams.server();
        gateway = upstreams.gateway("""
                providers:
                  claude: { type: anthropic, baseUrl: "%s", apiKey: "${file:%s}" }
                  google: { type: gemini, baseUrl: "%s", apiKey: "${file:%s}" }
                models:
                  - name: claude
                    deployments: [ { provider: claude, model: claude-sonnet-4-5 } ]
                  - name: gemini
                    deployments: [ { provider: google, model: gemini-2.5-flash } ]
                routing: { retries: 0 }
                """.formatted(UpstreamFixture.root(anthropic), upstreams.keyFile("anthropic", "sk-ant-test-0123456789\n"),
                UpstreamFixture.root(gemini), upstreams.keyFile("google", "AIzaTest0123456789\n")));
    }

    static FunctionTool weather() {
        return FunctionTool.builder().name("get_weather").strict(false)
                .parameters(FunctionTool.Parameters.builder()
                        .putAdditionalProperty("type", JsonValue.from("object"))
                        .putAdditionalProperty("properties", JsonValue.from(Map.of("city", Map.of("type", "string")))).build())
                .build();
    }

    static Response ask(String model, String input, boolean withTool) {
        ResponseCreateParams.Builder params = ResponseCreateParams.builder().model(model).input(input)
                .instructions("Be brief.").maxOutputTokens(64);
        if (withTool) {
            params.addTool(weather());
        }
        return upstreams.openai().responses().create(params.build());
    }

    static String text(Response r) {
        StringBuilder out = new StringBuilder();
        r.output().stream().filter(ResponseOutputItem::isMessage)
                .forEach(m -> m.asMessage().content().forEach(c -> out.append(c.asOutputText().text())));
        return out.toString();
    }

    @Test
    void anthropicServesTextAndToolCalls() throws Exception {
        anthropic.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
                 "content":[{"type":"text","text":"Hello from Claude"}],"stop_reason":"end_turn",
                 "usage":{"input_tokens":9,"output_tokens":4}}"""));
        Response r = ask("claude", "Hi", false);
        assertThat(text(r)).isEqualTo("Hello from Claude");
        assertThat(r.usage()).hasValueSatisfying(u -> assertThat(u.inputTokens()).isEqualTo(9));
        RecordedRequest sent = anthropic.takeRequest();
        JsonNode body = JSON.readTree(sent.getBody().readUtf8());
        assertThat(sent.getPath()).isEqualTo("/v1/messages");
        assertThat(body.path("system").toString()).contains("Be brief.");
        assertThat(body.path("max_tokens").asInt()).isEqualTo(64);

        anthropic.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"msg_2","type":"message","role":"assistant","model":"claude-sonnet-4-5",
                 "content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}],
                 "stop_reason":"tool_use","usage":{"input_tokens":20,"output_tokens":8}}"""));
        Response call = ask("claude", "Weather in Paris?", true);
        assertThat(call.output().get(0).asFunctionCall().name()).isEqualTo("get_weather");
        assertThat(JSON.readTree(call.output().get(0).asFunctionCall().arguments()).path("city").asText()).isEqualTo("Paris");
        assertThat(call.output().get(0).asFunctionCall().callId()).isEqualTo("toolu_1");
        assertThat(JSON.readTree(anthropic.takeRequest().getBody().readUtf8()).path("tools").get(0).path("name").asText())
                .isEqualTo("get_weather");
    }

    @Test
    void geminiServesTextAndToolCalls() throws Exception {
        gemini.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"candidates":[{"content":{"role":"model","parts":[{"text":"Hello from Gemini"}]},"finishReason":"STOP"}],
                 "usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":3,"totalTokenCount":10}}"""));
        Response r = ask("gemini", "Hi", false);
        assertThat(text(r)).isEqualTo("Hello from Gemini");
        assertThat(r.usage()).hasValueSatisfying(u -> assertThat(u.totalTokens()).isEqualTo(10));
        assertThat(gemini.takeRequest().getPath()).contains("gemini-2.5-flash:generateContent");

        gemini.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]},
                  "finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":5,"totalTokenCount":17}}"""));
        Response call = ask("gemini", "Weather in Paris?", true);
        ResponseOutputItem item = call.output().get(0);
        assertThat(item.isFunctionCall()).isTrue();
        assertThat(JSON.readTree(item.asFunctionCall().arguments()).path("city").asText()).isEqualTo("Paris");
        assertThat(JSON.readTree(gemini.takeRequest().getBody().readUtf8()).path("tools").toString()).contains("get_weather");
    }
}
