package dev.caravan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.ResponseFormatJsonSchema;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionContentPart;
import com.openai.models.chat.completions.ChatCompletionContentPartImage;
import com.openai.models.chat.completions.ChatCompletionContentPartText;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionNamedToolChoice;
import com.openai.models.chat.completions.ChatCompletionToolMessageParam;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import dev.caravan.config.BreakerSettings;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ProviderConfig;
import dev.caravan.provider.ChatCall;
import dev.caravan.provider.GeminiProvider;
import dev.caravan.provider.UpstreamClient;
import io.netty.channel.nio.NioEventLoopGroup;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Caravan in front of Google's Gemini API (v1beta): OpenAI-shaped requests in, Gemini's wire format upstream,
 * OpenAI-shaped answers, streams, embeddings and errors back. Fixtures follow the shapes of Google's API reference.
 */
class GeminiUpstreamTest {

    static final String GOOGLE_KEY = TestGateway.fakeProviderKey("AIzaSy");
    static final ObjectMapper JSON = new ObjectMapper();
    static final String AUTH = "Bearer " + TestGateway.MASTER_KEY;

    @RegisterExtension
    static final UpstreamFixture upstreams = new UpstreamFixture();
    static MockWebServer google;
    static Path keyFile;
    static TestGateway gateway;
    static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        google = upstreams.server();
        keyFile = upstreams.keyFile("google", GOOGLE_KEY + "\n");
        gateway = upstreams.gateway("""
                providers:
                  google: { type: gemini, baseUrl: "%s", apiKey: "${file:%s}" }
                models:
                  - name: gemini-flash
                    deployments: [ { provider: google, model: gemini-2.5-flash } ]
                  - name: gemini-embedding
                    deployments: [ { provider: google, model: gemini-embedding-001 } ]
                  # error tests get deployments of their own: a 429 cools its deployment down
                  - name: gemini-limited
                    deployments: [ { id: limited, provider: google, model: gemini-2.5-flash } ]
                  - name: gemini-refused
                    deployments: [ { id: refused, provider: google, model: gemini-2.5-flash } ]
                  - name: gemini-overflow
                    deployments: [ { id: overflow, provider: google, model: gemini-2.5-flash } ]
                routing:
                  retries: 0
                  breaker: { minimumCalls: 1000, window: 1000 }
                """.formatted(UpstreamFixture.root(google), keyFile));
        client = upstreams.openai();
    }

    static MockResponse json(String body) {
        return new MockResponse().setHeader("Content-Type", "application/json; charset=UTF-8").setBody(body);
    }

    /** Google's SSE framing: CRLF line ends, one whole GenerateContentResponse per event, no terminal event. */
    static MockResponse sse(String... events) {
        StringBuilder body = new StringBuilder();
        for (String e : events) {
            body.append("data: ").append(e.replace("\n", "")).append("\r\n\r\n");
        }
        return new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(body.toString());
    }

    static MockResponse googleError(int code, String status, String message) {
        return json("""
                {"error":{"code":%d,"message":"%s","status":"%s"}}""".formatted(code, message, status));
    }

    static JsonNode sentBody(RecordedRequest request) throws Exception {
        return JSON.readTree(request.getBody().readUtf8());
    }

    static ChatCompletionCreateParams.Builder ask(String model, String text) {
        return ChatCompletionCreateParams.builder().model(model).addUserMessage(text);
    }

    static final String WEATHER_CALL = """
            {"candidates":[{"content":{"parts":[
                {"functionCall":{"name":"get_weather","args":{"city":"Oslo","unit":"celsius"}},
                 "thoughtSignature":"CiQB0e2Kb3Rlc3Qtc2lnbmF0dXJl"}],"role":"model"},
              "finishReason":"STOP","index":0}],
             "usageMetadata":{"promptTokenCount":60,"candidatesTokenCount":15,"totalTokenCount":75},
             "modelVersion":"gemini-2.5-flash","responseId":"resp-tool-1"}""";

    @Test
    void wholeAnswerGivesTextReasoningFinishReasonAndUsageWithCachedAndThinkingTokens() throws Exception {
        google.enqueue(json("""
                {"candidates":[{"content":{"parts":[
                    {"text":"The user wants a greeting.","thought":true},
                    {"text":"Hello"},{"text":" from Gemini"}],"role":"model"},
                  "finishReason":"STOP","index":0,
                  "safetyRatings":[{"category":"HARM_CATEGORY_HARASSMENT","probability":"NEGLIGIBLE"}]}],
                 "usageMetadata":{"promptTokenCount":42,"candidatesTokenCount":7,"totalTokenCount":79,
                   "cachedContentTokenCount":32,"thoughtsTokenCount":30,
                   "promptTokensDetails":[{"modality":"TEXT","tokenCount":42}]},
                 "modelVersion":"gemini-2.5-flash-001","responseId":"mKHuaOn2Ld-7nvgPq7rz4Aw"}"""));

        ChatCompletion c = client.chat().completions().create(ask("gemini-flash", "say hello").build());

        assertThat(c.id()).isEqualTo("mKHuaOn2Ld-7nvgPq7rz4Aw");
        assertThat(c.model()).isEqualTo("gemini-2.5-flash-001");
        assertThat(c.choices()).hasSize(1);
        assertThat(c.choices().get(0).message().content()).hasValue("Hello from Gemini");
        assertThat(c.choices().get(0).message()._additionalProperties().get("reasoning_content").asString())
                .hasValue("The user wants a greeting.");
        assertThat(c.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
        assertThat(c.usage()).isPresent();
        assertThat(c.usage().get().promptTokens()).isEqualTo(42);
        assertThat(c.usage().get().completionTokens()).as("answer plus thinking").isEqualTo(37);
        assertThat(c.usage().get().totalTokens()).isEqualTo(79);
        assertThat(c.usage().get().promptTokensDetails().get().cachedTokens()).hasValue(32L);
        assertThat(c.usage().get().completionTokensDetails().get().reasoningTokens()).hasValue(30L);

        RecordedRequest sent = google.takeRequest(1, TimeUnit.SECONDS);
        assertThat(sent.getMethod()).isEqualTo("POST");
        assertThat(sent.getPath()).isEqualTo("/v1beta/models/gemini-2.5-flash:generateContent");
        assertThat(sent.getHeader("x-goog-api-key")).isEqualTo(GOOGLE_KEY);
        assertThat(sent.getHeader("Authorization")).as("the client's key stays with the gateway").isNull();
    }

    @Test
    void requestReachesGeminiInItsOwnShape() throws Exception {
        google.enqueue(json("""
                {"candidates":[{"content":{"parts":[{"text":"{\\"answer\\":\\"blue\\"}"}],"role":"model"},
                  "finishReason":"STOP","index":0}],
                 "usageMetadata":{"promptTokenCount":90,"candidatesTokenCount":6,"totalTokenCount":96},
                 "modelVersion":"gemini-2.5-flash"}"""));
        FunctionDefinition weather = FunctionDefinition.builder().name("get_weather").description("Current weather")
                .parameters(FunctionParameters.builder()
                        .putAdditionalProperty("type", JsonValue.from("object"))
                        .putAdditionalProperty("properties", JsonValue.from(Map.of("city", Map.of("type", "string"),
                                "source", Map.of("type", "string", "format", "uri"),
                                "unit", Map.of("type", List.of("string", "null"), "enum", List.of("celsius", "fahrenheit")))))
                        .putAdditionalProperty("required", JsonValue.from(List.of("city", "unit")))
                        .putAdditionalProperty("additionalProperties", JsonValue.from(false))
                        .build())
                .strict(true).build();
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model("gemini-flash")
                .addSystemMessage("You are terse.")
                .addDeveloperMessage("Answer in JSON.")
                .addUserMessageOfArrayOfContentParts(List.of(
                        ChatCompletionContentPart.ofText(ChatCompletionContentPartText.builder().text("What colour is this?").build()),
                        ChatCompletionContentPart.ofImageUrl(ChatCompletionContentPartImage.builder().imageUrl(
                                ChatCompletionContentPartImage.ImageUrl.builder().url("data:image/png;base64,iVBORw0KGgo=").build()).build()),
                        ChatCompletionContentPart.ofImageUrl(ChatCompletionContentPartImage.builder().imageUrl(
                                ChatCompletionContentPartImage.ImageUrl.builder().url("https://example.com/sky.jpg").build()).build())))
                .addFunctionTool(weather)
                .toolChoice(ChatCompletionNamedToolChoice.builder().function(
                        ChatCompletionNamedToolChoice.Function.builder().name("get_weather").build()).build())
                .temperature(0.3).topP(0.9).maxCompletionTokens(256).stopOfStrings(List.of("END", "STOP")).n(1).seed(7)
                .presencePenalty(0.1).frequencyPenalty(0.2)
                .responseFormat(ResponseFormatJsonSchema.builder().jsonSchema(ResponseFormatJsonSchema.JsonSchema.builder()
                        .name("answer").schema(ResponseFormatJsonSchema.JsonSchema.Schema.builder()
                                .putAdditionalProperty("type", JsonValue.from("object"))
                                .putAdditionalProperty("properties", JsonValue.from(Map.of("answer", Map.of("type", "string"))))
                                .putAdditionalProperty("additionalProperties", JsonValue.from(false))
                                .build()).build()).build())
                .build();

        assertThat(client.chat().completions().create(params).choices().get(0).message().content()).hasValue("{\"answer\":\"blue\"}");

        JsonNode body = sentBody(google.takeRequest(1, TimeUnit.SECONDS));
        assertThat(body.at("/systemInstruction/parts/0/text").asText()).isEqualTo("You are terse.");
        assertThat(body.at("/systemInstruction/parts/1/text").asText()).isEqualTo("Answer in JSON.");
        assertThat(body.get("contents")).hasSize(1);
        JsonNode user = body.at("/contents/0");
        assertThat(user.get("role").asText()).isEqualTo("user");
        assertThat(user.at("/parts/0/text").asText()).isEqualTo("What colour is this?");
        assertThat(user.at("/parts/1/inlineData/mimeType").asText()).isEqualTo("image/png");
        assertThat(user.at("/parts/1/inlineData/data").asText()).isEqualTo("iVBORw0KGgo=");
        assertThat(user.at("/parts/2/fileData/fileUri").asText()).isEqualTo("https://example.com/sky.jpg");
        assertThat(user.at("/parts/2/fileData/mimeType").asText()).isEqualTo("image/jpeg");

        JsonNode declaration = body.at("/tools/0/functionDeclarations/0");
        assertThat(declaration.get("name").asText()).isEqualTo("get_weather");
        assertThat(declaration.get("description").asText()).isEqualTo("Current weather");
        assertThat(declaration.at("/parameters/properties/city/type").asText()).isEqualTo("string");
        assertThat(declaration.at("/parameters/properties/unit/type").asText()).isEqualTo("string");
        assertThat(declaration.at("/parameters/properties/unit/nullable").asBoolean()).isTrue();
        assertThat(declaration.at("/parameters/properties/source").has("format")).as("Gemini knows only enum and date-time").isFalse();
        assertThat(declaration.at("/parameters/required")).hasSize(2);
        assertThat(declaration.get("parameters").has("additionalProperties"))
                .as("Gemini's Schema refuses keys it does not know").isFalse();
        assertThat(body.at("/toolConfig/functionCallingConfig/mode").asText()).isEqualTo("ANY");
        assertThat(body.at("/toolConfig/functionCallingConfig/allowedFunctionNames/0").asText()).isEqualTo("get_weather");

        JsonNode config = body.get("generationConfig");
        assertThat(config.get("temperature").asDouble()).isEqualTo(0.3);
        assertThat(config.get("topP").asDouble()).isEqualTo(0.9);
        assertThat(config.get("maxOutputTokens").asInt()).isEqualTo(256);
        assertThat(config.get("stopSequences")).extracting(JsonNode::asText).containsExactly("END", "STOP");
        assertThat(config.get("candidateCount").asInt()).isEqualTo(1);
        assertThat(config.get("seed").asInt()).isEqualTo(7);
        assertThat(config.get("presencePenalty").asDouble()).isEqualTo(0.1);
        assertThat(config.get("frequencyPenalty").asDouble()).isEqualTo(0.2);
        assertThat(config.get("responseMimeType").asText()).isEqualTo("application/json");
        assertThat(config.at("/responseSchema/properties/answer/type").asText()).isEqualTo("string");
        assertThat(config.get("responseSchema").has("additionalProperties")).isFalse();
        assertThat(body.has("messages") || body.has("model") || body.has("temperature"))
                .as("nothing of the OpenAI shape is left at the top level").isFalse();
    }

    @Test
    void toolCallRoundTripCarriesNameArgumentsSignatureAndTheFunctionResponse() throws Exception {
        google.enqueue(json(WEATHER_CALL));
        ChatCompletionCreateParams first = ask("gemini-flash", "Weather in Oslo?").build();

        ChatCompletion turn1 = client.chat().completions().create(first);

        ChatCompletion.Choice choice = turn1.choices().get(0);
        assertThat(choice.finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
        assertThat(choice.message().content()).isEmpty();
        ChatCompletionMessageFunctionToolCall call = choice.message().toolCalls().get().get(0).asFunction();
        assertThat(call.function().name()).isEqualTo("get_weather");
        JsonNode args = JSON.readTree(call.function().arguments());
        assertThat(args.get("city").asText()).isEqualTo("Oslo");
        assertThat(args.get("unit").asText()).isEqualTo("celsius");
        assertThat(google.takeRequest(1, TimeUnit.SECONDS)).isNotNull();

        // the client runs the tool and sends the history back, as an agent loop does
        google.enqueue(json("""
                {"candidates":[{"content":{"parts":[{"text":"It is 4 degrees in Oslo."}],"role":"model"},
                  "finishReason":"STOP","index":0}],"modelVersion":"gemini-2.5-flash"}"""));
        ChatCompletion turn2 = client.chat().completions().create(first.toBuilder()
                .addMessage(choice.message())
                .addMessage(ChatCompletionToolMessageParam.builder().toolCallId(call.id())
                        .content("{\"temperature\":4,\"sky\":\"overcast\"}").build())
                .build());
        assertThat(turn2.choices().get(0).message().content()).hasValue("It is 4 degrees in Oslo.");

        JsonNode contents = sentBody(google.takeRequest(1, TimeUnit.SECONDS)).get("contents");
        assertThat(contents).extracting(c -> c.get("role").asText()).containsExactly("user", "model", "user");
        JsonNode modelPart = contents.at("/1/parts/0");
        assertThat(modelPart.at("/functionCall/name").asText()).isEqualTo("get_weather");
        assertThat(modelPart.at("/functionCall/args/city").asText()).as("arguments as an object").isEqualTo("Oslo");
        assertThat(modelPart.get("thoughtSignature").asText()).as("Gemini's signature survives the client's round trip").isEqualTo("CiQB0e2Kb3Rlc3Qtc2lnbmF0dXJl");
        JsonNode response = contents.at("/2/parts/0/functionResponse");
        assertThat(response.get("name").asText()).as("the name of the call it answers").isEqualTo("get_weather");
        assertThat(response.at("/response/temperature").asInt()).isEqualTo(4);
        assertThat(response.at("/response/sky").asText()).isEqualTo("overcast");
    }

    @Test
    void toolCallHistoryWithoutSignaturesGetsGooglesSkipValueOnTheTurnsFirstCall() throws Exception {
        // history from a client that dropped extra_content, or from another provider: Gemini 3 would refuse it
        google.enqueue(json("""
                {"candidates":[{"content":{"parts":[{"text":"4 degrees, 13:00."}],"role":"model"},"finishReason":"STOP"}]}"""));
        String history = """
                {"model":"gemini-flash","messages":[{"role":"user","content":"Weather and time in Oslo?"},
                  {"role":"assistant","content":"","tool_calls":[
                    {"id":"toolu_01","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Oslo\\"}"}},
                    {"id":"toolu_02","type":"function","function":{"name":"get_time","arguments":"{}"}}]},
                  {"role":"tool","tool_call_id":"toolu_02","content":"13:00"},
                  {"role":"tool","tool_call_id":"toolu_01","content":[{"type":"text","text":"4 degrees, overcast"}]}]}""";
        HttpResponse<String> r = gateway.post("/v1/chat/completions", history, "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(200);

        JsonNode contents = sentBody(google.takeRequest(1, TimeUnit.SECONDS)).get("contents");
        assertThat(contents).extracting(c -> c.get("role").asText()).containsExactly("user", "model", "user");
        JsonNode calls = contents.at("/1/parts");
        assertThat(calls).as("an empty text part is left out").hasSize(2);
        assertThat(calls.at("/0/thoughtSignature").asText()).isEqualTo("skip_thought_signature_validator");
        assertThat(calls.get(1).has("thoughtSignature")).as("only a turn's first call carries one").isFalse();
        JsonNode results = contents.at("/2/parts");
        assertThat(results).as("consecutive tool results merge into one user turn").hasSize(2);
        assertThat(results.at("/0/functionResponse/name").asText()).isEqualTo("get_time");
        assertThat(results.at("/0/functionResponse/response/content").asText()).isEqualTo("13:00");
        assertThat(results.at("/1/functionResponse/name").asText()).isEqualTo("get_weather");
        assertThat(results.at("/1/functionResponse/response/content").asText())
                .as("a plain-text result wrapped in an object").isEqualTo("4 degrees, overcast");
    }

    @Test
    void streamedTextArrivesWithTheRoleFirstFinishReasonAndUsageLast() throws Exception {
        google.enqueue(sse("""
                {"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}],
                 "usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":1,"totalTokenCount":13},
                 "modelVersion":"gemini-2.5-flash","responseId":"stream-1"}""", """
                {"candidates":[{"content":{"parts":[{"text":"lo "}],"role":"model"},"index":0}],
                 "usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":2,"totalTokenCount":14},
                 "modelVersion":"gemini-2.5-flash","responseId":"stream-1"}""", """
                {"candidates":[{"content":{"parts":[{"text":"world"}],"role":"model"},"finishReason":"STOP","index":0}],
                 "usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":3,"totalTokenCount":25,
                   "cachedContentTokenCount":8,"thoughtsTokenCount":10},
                 "modelVersion":"gemini-2.5-flash","responseId":"stream-1"}"""));
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(ask("gemini-flash", "hi")
                .streamOptions(com.openai.models.chat.completions.ChatCompletionStreamOptions.builder().includeUsage(true).build())
                .build())) {
            s.stream().forEach(chunks::add);
        }

        StringBuilder text = new StringBuilder();
        List<String> finishes = new ArrayList<>();
        chunks.forEach(c -> c.choices().forEach(ch -> {
            ch.delta().content().ifPresent(text::append);
            ch.finishReason().ifPresent(f -> finishes.add(f.asString()));
        }));
        assertThat(text.toString()).isEqualTo("Hello world");
        assertThat(chunks.get(0).choices().get(0).delta().role()).hasValue(ChatCompletionChunk.Choice.Delta.Role.ASSISTANT);
        assertThat(chunks).allSatisfy(c -> assertThat(c.id()).isEqualTo("stream-1"));
        assertThat(finishes).containsExactly("stop");
        ChatCompletionChunk last = chunks.get(chunks.size() - 1);
        assertThat(last.choices()).isEmpty();
        assertThat(last.usage().get().promptTokens()).isEqualTo(12);
        assertThat(last.usage().get().completionTokens()).isEqualTo(13);
        assertThat(last.usage().get().totalTokens()).isEqualTo(25);
        assertThat(last.usage().get().promptTokensDetails().get().cachedTokens()).hasValue(8L);
        assertThat(last.usage().get().completionTokensDetails().get().reasoningTokens()).hasValue(10L);

        RecordedRequest sent = google.takeRequest(1, TimeUnit.SECONDS);
        assertThat(sent.getPath()).isEqualTo("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
        assertThat(sent.getHeader("x-goog-api-key")).isEqualTo(GOOGLE_KEY);
        assertThat(sentBody(sent).at("/contents/0/parts/0/text").asText()).isEqualTo("hi");
    }

    @Test
    void streamedFunctionCallIsOneWholeToolCallDeltaEndingWithToolCalls() throws Exception {
        google.enqueue(sse("""
                {"candidates":[{"content":{"parts":[{"text":"Checking. "}],"role":"model"},"index":0}],
                 "modelVersion":"gemini-2.5-flash"}""", """
                {"candidates":[{"content":{"parts":[
                    {"functionCall":{"name":"get_weather","args":{"city":"Oslo"}}},
                    {"functionCall":{"name":"get_time","args":{"zone":"Europe/Oslo"}}}],"role":"model"},
                  "finishReason":"STOP","index":0}],
                 "usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":20,"totalTokenCount":50},
                 "modelVersion":"gemini-2.5-flash"}"""));
        List<ChatCompletionChunk.Choice.Delta.ToolCall> calls = new ArrayList<>();
        List<String> finishes = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions()
                .createStreaming(ask("gemini-flash", "Weather and time in Oslo?").build())) {
            s.stream().forEach(c -> c.choices().forEach(ch -> {
                ch.delta().toolCalls().ifPresent(calls::addAll);
                ch.finishReason().ifPresent(f -> finishes.add(f.asString()));
            }));
        }

        assertThat(calls).hasSize(2);
        assertThat(calls).extracting(ChatCompletionChunk.Choice.Delta.ToolCall::index).containsExactly(0L, 1L);
        assertThat(calls).allSatisfy(c -> assertThat(c.id()).isPresent());
        assertThat(calls.get(0).id()).isNotEqualTo(calls.get(1).id());
        assertThat(calls.get(0).function().get().name()).hasValue("get_weather");
        assertThat(JSON.readTree(calls.get(0).function().get().arguments().get()).get("city").asText()).isEqualTo("Oslo");
        assertThat(calls.get(1).function().get().name()).hasValue("get_time");
        assertThat(JSON.readTree(calls.get(1).function().get().arguments().get()).get("zone").asText()).isEqualTo("Europe/Oslo");
        assertThat(finishes).containsExactly("tool_calls");
    }

    @Test
    void streamThatBreaksOffEndsWithAnErrorEventNotACleanFinish() {
        String partial = """
                {"candidates":[{"content":{"parts":[{"text":"Once upon"}],"role":"model"},"index":0}]}""";
        google.enqueue(sse(partial, """
                {"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"""));
        String request = "{\"model\":\"gemini-flash\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"story\"}]}";
        HttpResponse<String> overloaded = gateway.post("/v1/chat/completions", request, "Authorization", AUTH);
        // an upstream error ends the stream at once (text still queued is dropped): the client sees why
        assertThat(overloaded.body()).contains("\"code\":\"upstream_unavailable\"", "overloaded")
                .doesNotContain("[DONE]", "\"finish_reason\":\"stop\"");

        google.enqueue(sse(partial)); // the body ends without a finishReason: a cut connection, not an answer
        HttpResponse<String> cut = gateway.post("/v1/chat/completions", request, "Authorization", AUTH);
        assertThat(cut.body()).contains("Once upon", "\"code\":\"upstream_stream_broken\"").doesNotContain("[DONE]");
    }

    @Test
    void safetyStopIsContentFilterWholeAndStreamed() {
        google.enqueue(json("""
                {"candidates":[{"finishReason":"SAFETY","index":0,"safetyRatings":[
                  {"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH","blocked":true}]}],
                 "usageMetadata":{"promptTokenCount":9,"totalTokenCount":9},"modelVersion":"gemini-2.5-flash"}"""));
        ChatCompletion c = client.chat().completions().create(ask("gemini-flash", "something risky").build());
        assertThat(c.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.CONTENT_FILTER);
        assertThat(c.choices().get(0).message().content()).isEmpty();

        google.enqueue(sse("""
                {"candidates":[{"content":{"parts":[{"text":"Here is how"}],"role":"model"},"index":0}]}""", """
                {"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"SAFETY","index":0,
                  "safetyRatings":[{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH","blocked":true}]}],
                 "usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":3,"totalTokenCount":12}}"""));
        assertThat(streamedFinishReasons("something risky")).containsExactly("content_filter");
    }

    @Test
    void blockedPromptIsAnEmptyContentFilterAnswerNotAnError() {
        String blocked = """
                {"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[
                  {"category":"HARM_CATEGORY_HARASSMENT","probability":"HIGH"}]},
                 "usageMetadata":{"promptTokenCount":8,"totalTokenCount":8},"modelVersion":"gemini-2.5-flash"}""";
        google.enqueue(json(blocked));
        ChatCompletion c = client.chat().completions().create(ask("gemini-flash", "a blocked prompt").build());
        assertThat(c.choices()).hasSize(1);
        assertThat(c.choices().get(0).message().content()).isEmpty();
        assertThat(c.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.CONTENT_FILTER);
        assertThat(c.usage().get().promptTokens()).isEqualTo(8);

        google.enqueue(sse(blocked));
        assertThat(streamedFinishReasons("a blocked prompt")).containsExactly("content_filter");
    }

    List<String> streamedFinishReasons(String prompt) {
        List<String> finishes = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(ask("gemini-flash", prompt).build())) {
            s.stream().forEach(c -> c.choices().forEach(ch -> ch.finishReason().ifPresent(f -> finishes.add(f.asString()))));
        }
        return finishes;
    }

    @Test
    void embeddingsOfTwoInputsComeBackInOneBatchAsFloatsOrBase64() throws Exception {
        String twoVectors = """
                {"embeddings":[{"values":[0.25,-0.5,0.75]},{"values":[1.0,0.0,-1.0]}]}""";
        google.enqueue(json(twoVectors));
        CreateEmbeddingResponse floats = client.embeddings().create(EmbeddingCreateParams.builder()
                .model("gemini-embedding").inputOfArrayOfStrings(List.of("first text", "second text")).dimensions(3)
                .encodingFormat(EmbeddingCreateParams.EncodingFormat.FLOAT).build());
        assertThat(floats.data()).hasSize(2);
        assertThat(floats.data()).extracting(e -> e.index()).containsExactly(0L, 1L);
        assertThat(floats.data().get(0).embedding()).containsExactly(0.25f, -0.5f, 0.75f);
        assertThat(floats.data().get(1).embedding()).containsExactly(1.0f, 0.0f, -1.0f);
        assertThat(floats.usage().promptTokens()).as("\"first text\" and \"second text\", two tokens each").isEqualTo(4);

        RecordedRequest sent = google.takeRequest(1, TimeUnit.SECONDS);
        assertThat(sent.getPath()).isEqualTo("/v1beta/models/gemini-embedding-001:batchEmbedContents");
        assertThat(sent.getHeader("x-goog-api-key")).isEqualTo(GOOGLE_KEY);
        JsonNode requests = sentBody(sent).get("requests");
        assertThat(requests).hasSize(2);
        assertThat(requests.at("/0/model").asText()).isEqualTo("models/gemini-embedding-001");
        assertThat(requests.at("/0/content/parts/0/text").asText()).isEqualTo("first text");
        assertThat(requests.at("/1/content/parts/0/text").asText()).isEqualTo("second text");
        assertThat(requests.at("/1/outputDimensionality").asInt()).isEqualTo(3);

        google.enqueue(json(twoVectors));
        HttpResponse<String> raw = gateway.post("/v1/embeddings",
                "{\"model\":\"gemini-embedding\",\"input\":[\"first text\",\"second text\"],\"encoding_format\":\"base64\"}",
                "Authorization", AUTH);
        assertThat(raw.statusCode()).isEqualTo(200);
        JsonNode list = JSON.readTree(raw.body());
        assertThat(list.get("data")).hasSize(2);
        ByteBuffer second = ByteBuffer.wrap(Base64.getDecoder().decode(list.at("/data/1/embedding").asText()))
                .order(ByteOrder.LITTLE_ENDIAN);
        assertThat(second.remaining()).isEqualTo(12);
        assertThat(new float[]{second.getFloat(), second.getFloat(), second.getFloat()}).containsExactly(1.0f, 0.0f, -1.0f);
        // Gemini reports no embedding usage: the gateway counts the inputs and says it did
        assertThat(list.at("/usage/prompt_tokens").asLong()).isEqualTo(4);
        assertThat(list.at("/usage/caravan_estimated").asBoolean()).isTrue();
    }

    @Test
    void rateLimitKeeps429AndRetryAfter() {
        google.enqueue(googleError(429, "RESOURCE_EXHAUSTED",
                "Resource has been exhausted (e.g. check quota).").setResponseCode(429).setHeader("Retry-After", "13"));
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                "{\"model\":\"gemini-limited\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(429);
        assertThat(r.headers().firstValue("retry-after")).hasValue("13");
        assertThat(r.body()).contains("\"code\":\"resource_exhausted\"", "Resource has been exhausted");
    }

    @Test
    void refusedOrInvalidKeyIsTheGatewaysFault502() {
        google.enqueue(googleError(403, "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established identity).").setResponseCode(403));
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                "{\"model\":\"gemini-refused\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(r.body()).contains("\"code\":\"upstream_auth_failed\"").doesNotContain(GOOGLE_KEY);

        // Google answers a wrong key with 400, which is still not the caller's fault
        google.enqueue(json("""
                {"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",
                  "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID",
                    "domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}]}}""").setResponseCode(400));
        HttpResponse<String> wrongKey = gateway.post("/v1/chat/completions",
                "{\"model\":\"gemini-refused\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "Authorization", AUTH);
        assertThat(wrongKey.statusCode()).isEqualTo(502);
        assertThat(wrongKey.body()).contains("\"code\":\"upstream_auth_failed\"", "API key not valid");
    }

    @Test
    void inputTokenOverflowIsContextLengthExceeded() {
        google.enqueue(googleError(400, "INVALID_ARGUMENT",
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).").setResponseCode(400));
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                "{\"model\":\"gemini-overflow\",\"messages\":[{\"role\":\"user\",\"content\":\"a very long prompt\"}]}",
                "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("\"code\":\"context_length_exceeded\"", "exceeds the maximum number of tokens allowed");
    }

    @Test
    void countTokensAsksGeminisCountingEndpointWithTheWholeRequest() throws Exception {
        // no HTTP route counts tokens yet, so this one talks to the adapter the way that route will
        google.enqueue(json("{\"totalTokens\":31,\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":31}]}"));
        NioEventLoopGroup loops = new NioEventLoopGroup(1);
        try {
            ProviderConfig provider = new ProviderConfig("google", "gemini",
                    URI.create(google.url("/").toString().replaceAll("/$", "")), GOOGLE_KEY, null, null, null);
            DeploymentConfig deployment = new DeploymentConfig("google-gemini-2.5-flash", provider, "gemini-2.5-flash",
                    1, 0, null, BreakerSettings.DEFAULT);
            ObjectNode request = (ObjectNode) JSON.readTree("""
                    {"model":"gemini-flash","messages":[{"role":"system","content":"Be brief."},
                      {"role":"user","content":"How many tokens is this?"}],"temperature":0.5}""");
            long tokens = new GeminiProvider(new UpstreamClient(loops))
                    .countTokens(new ChatCall("req-1", deployment, request, Map.of(), Duration.ofSeconds(5)))
                    .get(5, TimeUnit.SECONDS);
            assertThat(tokens).isEqualTo(31);
        } finally {
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
        RecordedRequest sent = google.takeRequest(1, TimeUnit.SECONDS);
        assertThat(sent.getPath()).isEqualTo("/v1beta/models/gemini-2.5-flash:countTokens");
        assertThat(sent.getHeader("x-goog-api-key")).isEqualTo(GOOGLE_KEY);
        JsonNode body = sentBody(sent).get("generateContentRequest");
        assertThat(body.get("model").asText()).isEqualTo("models/gemini-2.5-flash");
        assertThat(body.at("/systemInstruction/parts/0/text").asText()).isEqualTo("Be brief.");
        assertThat(body.at("/contents/0/parts/0/text").asText()).isEqualTo("How many tokens is this?");
        assertThat(body.has("generationConfig")).isFalse();
    }
}
