package dev.caravan;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.core.JsonValue;
import com.anthropic.core.http.StreamResponse;
import com.anthropic.helpers.MessageAccumulator;
import com.anthropic.models.beta.AnthropicBeta;
import com.anthropic.models.beta.messages.BetaJsonOutputFormat;
import com.anthropic.models.beta.messages.BetaMessage;
import com.anthropic.models.messages.JsonOutputFormat;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCountTokensParams;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.OutputConfig;
import com.anthropic.models.messages.RawMessageStreamEvent;
import com.anthropic.models.messages.StructuredMessage;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.openai.models.ResponseFormatJsonObject;
import com.openai.models.ResponseFormatJsonSchema;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.caravan.core.Json;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static dev.caravan.MockFeaturesTest.HARD_SCHEMA;
import static dev.caravan.MockFeaturesTest.assertValid;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Structured output across the Anthropic seam, both ways: anthropic-java's {@code output_config.format} (and the
 * deprecated beta {@code output_format}) on {@code /v1/messages} answered by the mock with JSON valid against the
 * schema, and an OpenAI client's {@code response_format} reaching an Anthropic deployment as its
 * {@code output_config.format}.
 */
class AnthropicStructuredOutputTest {

    static final String PERSON_SCHEMA = """
            {"type": "object",
             "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
             "required": ["name", "age"], "additionalProperties": false}""";

    @RegisterExtension
    static final UpstreamFixture upstreams = new UpstreamFixture();
    static MockWebServer anthropic;
    static TestGateway gateway;
    static AnthropicClient claude;

    @BeforeAll
    static void start() throws Exception {
        anthropic = upstreams.server();
        gateway = upstreams.gateway("""
                providers:
                  mock: { type: mock }
                  claude: { type: anthropic, baseUrl: "%s" }
                routing: { retries: 0 }
                models:
                  - name: mock-gpt
                    deployments: [ { provider: mock, model: mock-gpt } ]
                  - name: claude
                    deployments: [ { provider: claude, model: claude-sonnet-4-5 } ]
                """.formatted(UpstreamFixture.root(anthropic)));
        claude = AnthropicOkHttpClient.builder().baseUrl(gateway.baseUrl()).apiKey(TestGateway.MASTER_KEY).maxRetries(0)
                .timeout(Duration.ofSeconds(20)).build();
    }

    @Test
    void outputConfigSchemaGivesJsonValidAgainstItWholeAndStreamed() throws Exception {
        MessageCreateParams request = MessageCreateParams.builder().model("mock-gpt").maxTokens(4000)
                .addUserMessage("Describe a person").outputConfig(OutputConfig.builder().format(JsonOutputFormat.builder()
                        .schema(JsonOutputFormat.Schema.builder().putAllAdditionalProperties(values(HARD_SCHEMA)).build())
                        .build()).build())
                .build();

        Message whole = claude.messages().create(request);
        MessageAccumulator acc = MessageAccumulator.create();
        try (StreamResponse<RawMessageStreamEvent> stream = claude.messages().createStreaming(request)) {
            stream.stream().forEach(acc::accumulate);
        }

        String text = whole.content().get(0).asText().text();
        assertValid(HARD_SCHEMA, Json.MAPPER.readTree(text));
        assertThat(acc.message().content().get(0).asText().text()).isEqualTo(text);
    }

    /** anthropic-java's structured-output helper: the schema from a class (sent as output_config), the answer parsed. */
    @Test
    void theSdksStructuredOutputHelperParsesTheAnswer() {
        StructuredMessage<MockFeaturesTest.BookTable> m = claude.messages().create(MessageCreateParams.builder()
                .model("mock-gpt").maxTokens(500).addUserMessage("A booking in Oslo for 2")
                .outputConfig(MockFeaturesTest.BookTable.class).build());

        MockFeaturesTest.BookTable booking = m.content().get(0).text().orElseThrow().text();
        assertThat(booking.city).isEqualTo("Oslo");
        assertThat(booking.people).isEqualTo(2);
    }

    @Test
    @SuppressWarnings("deprecation") // output_format is the beta form anthropic-java still sends; Caravan accepts it
    void betaOutputFormatWithItsHeaderGivesJsonValidAgainstTheSchema() throws Exception {
        BetaMessage m = claude.beta().messages().create(com.anthropic.models.beta.messages.MessageCreateParams.builder()
                .model("mock-gpt").maxTokens(500).addUserMessage("Describe a person")
                .addBeta(AnthropicBeta.STRUCTURED_OUTPUTS_2025_11_13)
                .outputFormat(BetaJsonOutputFormat.builder().schema(BetaJsonOutputFormat.Schema.builder()
                        .putAllAdditionalProperties(values(PERSON_SCHEMA)).build()).build())
                .build());

        assertValid(PERSON_SCHEMA, Json.MAPPER.readTree(m.content().get(0).asText().text()));
    }

    @Test
    void aFormatOtherThanJsonSchemaIsA400InAnthropicsShapeNamingTheField() throws Exception {
        String head = "{\"model\":\"mock-gpt\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],";
        HttpResponse<String> xml = gateway.post("/v1/messages", head + "\"output_config\":{\"format\":{\"type\":\"xml\"}}}",
                "x-api-key", TestGateway.MASTER_KEY);
        AnthropicMessagesTest.assertAnthropicError(xml, 400, "invalid_request_error");
        assertThat(message(xml)).contains("output_config.format.type").contains("json_schema").contains("xml");

        HttpResponse<String> beta = gateway.post("/v1/messages", head + "\"output_format\":{\"type\":\"json_object\"}}",
                "x-api-key", TestGateway.MASTER_KEY);
        AnthropicMessagesTest.assertAnthropicError(beta, 400, "invalid_request_error");
        assertThat(message(beta)).contains("output_format.type");

        HttpResponse<String> noSchema = gateway.post("/v1/messages",
                head + "\"output_config\":{\"format\":{\"type\":\"json_schema\"}}}", "x-api-key", TestGateway.MASTER_KEY);
        AnthropicMessagesTest.assertAnthropicError(noSchema, 400, "invalid_request_error");
        assertThat(message(noSchema)).contains("output_config.format.schema");

        HttpResponse<String> effortOnly = gateway.post("/v1/messages", head + "\"output_config\":{\"effort\":\"low\"}}",
                "x-api-key", TestGateway.MASTER_KEY);
        assertThat(effortOnly.statusCode()).as(effortOnly.body()).isEqualTo(200);
        assertThat(Json.MAPPER.readTree(effortOnly.body()).at("/content/0/text").asText()).startsWith("Mock reply to");
    }

    @Test
    void anOpenAiJsonSchemaReachesAnAnthropicDeploymentAsOutputConfigFormatWholeAndStreamed() throws Exception {
        anthropic.enqueue(AnthropicUpstreamTest.json("""
                {"id":"msg_01S","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
                 "content":[{"type":"text","text":"{\\"name\\":\\"Ada\\",\\"age\\":36}"}],
                 "stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":40,"output_tokens":9}}"""));
        ChatCompletionCreateParams request = ChatCompletionCreateParams.builder().model("claude")
                .addUserMessage("Describe a person").responseFormat(ResponseFormatJsonSchema.builder()
                        .jsonSchema(ResponseFormatJsonSchema.JsonSchema.builder().name("person").strict(true)
                                .schema(ResponseFormatJsonSchema.JsonSchema.Schema.builder()
                                        .putAllAdditionalProperties(MockFeaturesTest.jsonValues(PERSON_SCHEMA)).build())
                                .build()).build())
                .build();

        String content = upstreams.openai().chat().completions().create(request).choices().get(0).message().content()
                .orElseThrow();
        assertValid(PERSON_SCHEMA, Json.MAPPER.readTree(content));
        RecordedRequest sent = anthropic.takeRequest(1, TimeUnit.SECONDS);
        assertCarriesTheSchema(sent, PERSON_SCHEMA);

        anthropic.enqueue(AnthropicUpstreamTest.events(AnthropicUpstreamTest.fixture("stream-text.sse")));
        try (com.openai.core.http.StreamResponse<ChatCompletionChunk> stream =
                     upstreams.openai().chat().completions().createStreaming(request)) {
            stream.stream().forEach(chunk -> { });
        }
        RecordedRequest streamed = anthropic.takeRequest(1, TimeUnit.SECONDS);
        assertCarriesTheSchema(streamed, PERSON_SCHEMA);
        assertThat(Json.MAPPER.readTree(streamed.getBody().readUtf8()).path("stream").asBoolean()).isTrue();
    }

    /** An Anthropic client's schema survives the canonical hop to an Anthropic deployment unchanged. */
    @Test
    void aClaudeClientsOutputConfigReachesAnAnthropicDeploymentAsItWasSent() throws Exception {
        anthropic.enqueue(AnthropicUpstreamTest.json(AnthropicUpstreamTest.fixture("message-text.json")));
        claude.messages().create(MessageCreateParams.builder().model("claude").maxTokens(100)
                .addUserMessage("Describe a person").outputConfig(OutputConfig.builder().format(JsonOutputFormat.builder()
                        .schema(JsonOutputFormat.Schema.builder().putAllAdditionalProperties(values(PERSON_SCHEMA)).build())
                        .build()).build())
                .build());

        assertCarriesTheSchema(anthropic.takeRequest(1, TimeUnit.SECONDS), PERSON_SCHEMA);
    }

    /** Anthropic's counting endpoint takes output_config, and the schema is input: it is counted with the rest. */
    @Test
    void countTokensSendsTheOutputConfigToAnAnthropicDeployment() throws Exception {
        anthropic.enqueue(AnthropicUpstreamTest.json("{\"input_tokens\":321}"));
        long tokens = claude.messages().countTokens(MessageCountTokensParams.builder().model("claude")
                .addUserMessage("Describe a person").outputConfig(OutputConfig.builder().format(JsonOutputFormat.builder()
                        .schema(JsonOutputFormat.Schema.builder().putAllAdditionalProperties(values(PERSON_SCHEMA)).build())
                        .build()).build())
                .build()).inputTokens();

        assertThat(tokens).isEqualTo(321);
        RecordedRequest sent = anthropic.takeRequest(1, TimeUnit.SECONDS);
        assertThat(sent.getPath()).isEqualTo("/v1/messages/count_tokens");
        JsonNode body = Json.MAPPER.readTree(sent.getBody().readUtf8());
        assertThat(body.at("/output_config/format/schema")).isEqualTo(Json.MAPPER.readTree(PERSON_SCHEMA));
    }

    /** Anthropic has no schema-free JSON mode: json_object asks for JSON in the system prompt. */
    @Test
    void anOpenAiJsonObjectReachesAnAnthropicDeploymentAsASystemInstruction() throws Exception {
        anthropic.enqueue(AnthropicUpstreamTest.json(AnthropicUpstreamTest.fixture("message-text.json")));
        upstreams.openai().chat().completions().create(ChatCompletionCreateParams.builder().model("claude")
                .addSystemMessage("You are terse.").addUserMessage("What is Caravan?")
                .responseFormat(ResponseFormatJsonObject.builder().build()).build());

        JsonNode body = Json.MAPPER.readTree(anthropic.takeRequest(1, TimeUnit.SECONDS).getBody().readUtf8());
        assertThat(body.path("system").asText()).startsWith("You are terse.").contains("single valid JSON object");
        assertThat(body.has("output_config")).isFalse();
        assertThat(body.has("response_format")).isFalse();
    }

    static void assertCarriesTheSchema(RecordedRequest sent, String schema) throws Exception {
        assertThat(sent.getPath()).isEqualTo("/v1/messages");
        // output_config.format is generally available: no beta header is needed, and none is sent
        assertThat(sent.getHeader("anthropic-beta")).isNull();
        JsonNode body = Json.MAPPER.readTree(sent.getBody().clone().readUtf8());
        assertThat(body.at("/output_config/format/type").asText()).isEqualTo("json_schema");
        assertThat(body.at("/output_config/format/schema")).isEqualTo(Json.MAPPER.readTree(schema));
        assertThat(body.has("output_format")).isFalse();
        assertThat(body.has("response_format")).isFalse();
    }

    static String message(HttpResponse<String> response) throws Exception {
        return Json.MAPPER.readTree(response.body()).path("error").path("message").asText();
    }

    static Map<String, JsonValue> values(String json) throws Exception {
        Map<String, Object> map = Json.MAPPER.readValue(json, new TypeReference<LinkedHashMap<String, Object>>() { });
        Map<String, JsonValue> out = new LinkedHashMap<>();
        map.forEach((k, v) -> out.put(k, JsonValue.from(v)));
        return out;
    }
}
