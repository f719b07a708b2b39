package dev.caravan;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.helpers.MessageAccumulator;
import com.anthropic.models.messages.ContentBlock;
import com.anthropic.models.messages.ContentBlockParam;
import com.anthropic.models.messages.ToolResultBlockParam;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.RawMessageStreamEvent;
import com.anthropic.models.messages.StopReason;
import com.anthropic.models.messages.Tool;
import com.anthropic.models.messages.ToolChoiceTool;
import com.anthropic.models.messages.ToolUseBlock;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.ResponseFormatJsonObject;
import com.openai.models.ResponseFormatJsonSchema;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionFunctionTool;
import com.openai.models.chat.completions.ChatCompletionMessage;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionMessageToolCall;
import com.openai.models.chat.completions.ChatCompletionNamedToolChoice;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.chat.completions.ChatCompletionToolChoiceOption;
import com.openai.models.chat.completions.ChatCompletionToolMessageParam;
import com.openai.models.chat.completions.StructuredChatCompletion;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The built-in mock speaks the features agent frameworks need, so they can be tried without a provider key: tool
 * calls under every {@code tool_choice}, parallel or not, a text answer after a tool result, JSON and
 * schema-conforming answers, {@code n} choices, whole and streamed, on chat completions and on /v1/messages.
 */
class MockFeaturesTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String WEATHER_SCHEMA = """
            {"type": "object",
             "properties": {"city": {"type": "string", "minLength": 2},
                            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                            "days": {"type": "integer", "minimum": 1, "maximum": 7}},
             "required": ["city", "unit"], "additionalProperties": false}""";
    static final String TIME_SCHEMA = """
            {"type": "object", "properties": {"timezone": {"type": "string", "pattern": "^[A-Z][a-z]+/[A-Z][a-z]+$"}},
             "required": ["timezone"]}""";
    /** Most of what a tool or a structured output schema uses, in one schema: the generator's acceptance test. */
    static final String HARD_SCHEMA = """
            {"$schema": "https://json-schema.org/draft/2020-12/schema",
             "type": "object",
             "$defs": {
               "address": {"type": "object", "properties": {"street": {"type": "string"}, "zip": {"type": "string", "pattern": "^\\\\d{5}$"}},
                           "required": ["street", "zip"], "additionalProperties": false},
               "node": {"type": "object", "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                        "required": ["name", "children"]}},
             "properties": {
               "id": {"type": "string", "format": "uuid"},
               "email": {"type": "string", "format": "email"},
               "homepage": {"type": "string", "format": "uri"},
               "born": {"type": "string", "format": "date"},
               "seen": {"type": "string", "format": "date-time"},
               "code": {"type": "string", "pattern": "^[A-Z]{3}-\\\\d{2}$"},
               "nick": {"type": "string", "minLength": 12, "maxLength": 14},
               "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
               "rank": {"type": "integer", "minimum": 10, "maximum": 20, "multipleOf": 7},
               "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}, "minItems": 3, "uniqueItems": true},
               "kind": {"const": "person"},
               "note": {"type": ["string", "null"]},
               "active": {"type": "boolean"},
               "address": {"$ref": "#/$defs/address"},
               "contact": {"anyOf": [{"type": "object", "properties": {"phone": {"type": "string"}}, "required": ["phone"]}, {"type": "null"}]},
               "tree": {"$ref": "#/$defs/node"}},
             "required": ["id", "email", "homepage", "born", "seen", "code", "nick", "score", "rank", "tags", "kind",
                          "note", "active", "address", "contact", "tree"],
             "additionalProperties": false}""";

    static TestGateway gateway;
    static OpenAIClient openai;
    static AnthropicClient claude;

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start(TestGateway.MOCK_CONFIG);
        openai = gateway.openai(TestGateway.DEMO_KEY);
        claude = AnthropicOkHttpClient.builder().baseUrl(gateway.baseUrl()).apiKey(TestGateway.DEMO_KEY).maxRetries(0)
                .timeout(Duration.ofSeconds(20)).build();
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    @Test
    void autoCallsTheToolThePromptIsAboutWithArgumentsValidAgainstItsSchema() throws Exception {
        ChatCompletion c = openai.chat().completions().create(withTools("What's the weather in Paris today?").build());

        assertThat(c.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
        List<ChatCompletionMessageToolCall> calls = c.choices().get(0).message().toolCalls().orElseThrow();
        assertThat(calls).singleElement().satisfies(call -> {
            assertThat(call.asFunction().id()).startsWith("call_");
            assertThat(call.asFunction().function().name()).isEqualTo("get_weather");
        });
        JsonNode args = JSON.readTree(calls.get(0).asFunction().function().arguments());
        assertValid(WEATHER_SCHEMA, args);
        assertThat(args.path("city").asText()).isEqualTo("Paris");
        assertThat(c.usage().orElseThrow().completionTokens()).isPositive();
    }

    @Test
    void requiredCallsAToolEvenWhenThePromptNamesNone() throws Exception {
        ChatCompletion c = openai.chat().completions().create(withTools("hello")
                .toolChoice(ChatCompletionToolChoiceOption.Auto.REQUIRED).build());

        ChatCompletionMessageFunctionToolCall call = c.choices().get(0).message().toolCalls().orElseThrow().get(0).asFunction();
        assertThat(call.function().name()).isEqualTo("get_weather"); // no word matches: the first tool offered
        assertValid(WEATHER_SCHEMA, JSON.readTree(call.function().arguments()));
    }

    @Test
    void aNamedFunctionIsCalledWhateverThePromptSays() throws Exception {
        ChatCompletion c = openai.chat().completions().create(withTools("What's the weather in Paris?")
                .toolChoice(ChatCompletionNamedToolChoice.builder()
                        .function(ChatCompletionNamedToolChoice.Function.builder().name("get_time").build()).build())
                .build());

        List<ChatCompletionMessageToolCall> calls = c.choices().get(0).message().toolCalls().orElseThrow();
        assertThat(calls).singleElement().satisfies(call -> assertThat(call.asFunction().function().name()).isEqualTo("get_time"));
        assertValid(TIME_SCHEMA, JSON.readTree(calls.get(0).asFunction().function().arguments()));
    }

    @Test
    void aNamedFunctionThatIsNotOfferedIsA400LikeOpenAis() {
        assertThatThrownBy(() -> openai.chat().completions().create(withTools("hello")
                .toolChoice(ChatCompletionNamedToolChoice.builder()
                        .function(ChatCompletionNamedToolChoice.Function.builder().name("launch_rocket").build()).build())
                .build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.getMessage()).contains("launch_rocket"));
    }

    @Test
    void noneAnswersInText() {
        ChatCompletion c = openai.chat().completions().create(withTools("What's the weather in Paris?")
                .toolChoice(ChatCompletionToolChoiceOption.Auto.NONE).build());

        assertThat(c.choices().get(0).message().toolCalls()).isEmpty();
        assertThat(c.choices().get(0).message().content()).hasValueSatisfying(t -> assertThat(t).startsWith("Mock reply to"));
        assertThat(c.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
    }

    @Test
    void aPromptNamingTwoToolsCallsBothInParallelOrOneWhenParallelIsOff() {
        String prompt = "What's the weather and the local time in Paris?";
        List<String> parallel = names(openai.chat().completions().create(withTools(prompt).build()));
        List<String> single = names(openai.chat().completions().create(withTools(prompt).parallelToolCalls(false).build()));

        assertThat(parallel).containsExactly("get_weather", "get_time");
        assertThat(single).hasSize(1);
    }

    @Test
    void afterAToolResultTheMockAnswersInText() {
        ChatCompletionCreateParams.Builder request = withTools("What's the weather in Paris?");
        ChatCompletionMessage assistant = openai.chat().completions().create(request.build()).choices().get(0).message();
        ChatCompletionMessageFunctionToolCall call = assistant.toolCalls().orElseThrow().get(0).asFunction();

        ChatCompletion answer = openai.chat().completions().create(request.addMessage(assistant)
                .addMessage(ChatCompletionToolMessageParam.builder().toolCallId(call.id()).content("18 degrees and sunny").build())
                .build());

        assertThat(answer.choices().get(0).message().toolCalls()).isEmpty();
        assertThat(answer.choices().get(0).message().content())
                .hasValue("The tool get_weather returned: 18 degrees and sunny.");
        assertThat(answer.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
    }

    @Test
    void streamedToolCallsAssembleInTheSdksAccumulatorAsTheWholeAnswerHasThem() {
        ChatCompletionCreateParams request = withTools("weather and time in Paris?")
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        ChatCompletion whole = openai.chat().completions().create(request);

        ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
        int chunks;
        try (StreamResponse<ChatCompletionChunk> stream = openai.chat().completions().createStreaming(request)) {
            chunks = (int) stream.stream().peek(acc::accumulate).count();
        }
        ChatCompletion streamed = acc.chatCompletion();

        assertThat(chunks).isGreaterThan(6); // arguments come in pieces
        assertThat(streamed.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
        assertThat(arguments(streamed)).isEqualTo(arguments(whole)).hasSize(2);
        assertThat(names(streamed)).containsExactly("get_weather", "get_time");
        assertThat(streamed.usage()).hasValueSatisfying(u -> assertThat(u.completionTokens()).isPositive());
    }

    /** openai-java's own tool helper: the schema derived from a class, the arguments parsed back into it. */
    @Test
    void theSdksClassBasedToolHelperRoundTrips() {
        ChatCompletion c = openai.chat().completions().create(ChatCompletionCreateParams.builder().model("mock-gpt")
                .addUserMessage("Book a table in Rome at 19 for 4 people").addTool(BookTable.class).build());

        BookTable args = c.choices().get(0).message().toolCalls().orElseThrow().get(0).asFunction().function()
                .arguments(BookTable.class);
        assertThat(args.city).isEqualTo("Rome");
        assertThat(args.people).isEqualTo(4);
    }

    public static class BookTable {
        public String city;
        public int people;
    }

    @Test
    void jsonObjectGivesAJsonObject() throws Exception {
        ChatCompletion c = openai.chat().completions().create(ChatCompletionCreateParams.builder().model("mock-gpt")
                .addUserMessage("Answer in JSON: what is Caravan?").responseFormat(ResponseFormatJsonObject.builder().build()).build());

        JsonNode answer = JSON.readTree(c.choices().get(0).message().content().orElseThrow());
        assertThat(answer.isObject()).isTrue();
        assertThat(answer.path("answer").asText()).startsWith("Mock reply to");
    }

    @Test
    void jsonSchemaGivesJsonValidAgainstTheSchemaWholeAndStreamed() throws Exception {
        ChatCompletionCreateParams request = ChatCompletionCreateParams.builder().model("mock-gpt")
                .addUserMessage("Describe a person").responseFormat(ResponseFormatJsonSchema.builder()
                        .jsonSchema(ResponseFormatJsonSchema.JsonSchema.builder().name("person").strict(true)
                                .schema(ResponseFormatJsonSchema.JsonSchema.Schema.builder()
                                        .putAllAdditionalProperties(jsonValues(HARD_SCHEMA)).build()).build()).build())
                .build();

        String whole = openai.chat().completions().create(request).choices().get(0).message().content().orElseThrow();
        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> stream = openai.chat().completions().createStreaming(request)) {
            stream.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append)));
        }

        assertValid(HARD_SCHEMA, JSON.readTree(whole));
        assertThat(streamed.toString()).isEqualTo(whole);
    }

    /** openai-java's structured-output helper: the schema from a class, the answer parsed into it. */
    @Test
    void theSdksStructuredOutputHelperParsesTheAnswer() {
        StructuredChatCompletion<BookTable> c = openai.chat().completions().create(ChatCompletionCreateParams.builder()
                .model("mock-gpt").addUserMessage("A booking in Oslo for 2").responseFormat(BookTable.class).build());

        BookTable booking = c.choices().get(0).message().content().orElseThrow();
        assertThat(booking.city).isEqualTo("Oslo");
        assertThat(booking.people).isEqualTo(2);
    }

    @Test
    void nGivesThatManyChoicesEachItsOwnWholeAndStreamed() {
        ChatCompletionCreateParams request = ChatCompletionCreateParams.builder().model("mock-gpt")
                .addUserMessage("Three ideas, please").n(3)
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        ChatCompletion one = openai.chat().completions().create(ChatCompletionCreateParams.builder().model("mock-gpt")
                .addUserMessage("Three ideas, please").build());
        ChatCompletion whole = openai.chat().completions().create(request);

        ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
        try (StreamResponse<ChatCompletionChunk> stream = openai.chat().completions().createStreaming(request)) {
            stream.stream().forEach(acc::accumulate);
        }
        ChatCompletion streamed = acc.chatCompletion();

        assertThat(whole.choices()).extracting(ChatCompletion.Choice::index).containsExactly(0L, 1L, 2L);
        List<String> texts = whole.choices().stream().map(ch -> ch.message().content().orElseThrow()).toList();
        assertThat(texts).doesNotHaveDuplicates().first().isEqualTo(one.choices().get(0).message().content().orElseThrow());
        assertThat(streamed.choices().stream().map(ch -> ch.message().content().orElseThrow()).toList()).isEqualTo(texts);
        long oneCompletion = one.usage().orElseThrow().completionTokens();
        assertThat(whole.usage().orElseThrow().completionTokens()).isGreaterThan(oneCompletion);
        assertThat(whole.usage().orElseThrow().promptTokens()).isEqualTo(one.usage().orElseThrow().promptTokens());
        assertThat(streamed.usage().orElseThrow().completionTokens()).isEqualTo(whole.usage().orElseThrow().completionTokens());
    }

    @Test
    void toolCallsWithNChoicesGiveEveryChoiceItsOwnCallIds() {
        ChatCompletion c = openai.chat().completions().create(withTools("weather in Paris").n(2).build());

        assertThat(c.choices()).hasSize(2);
        assertThat(c.choices().stream().map(ch -> ch.message().toolCalls().orElseThrow().get(0).asFunction().id()).distinct())
                .hasSize(2);
    }

    @Test
    void anthropicClientsGetToolUseBlocksWholeAndStreamed() throws Exception {
        MessageCreateParams request = MessageCreateParams.builder().model("mock-gpt").maxTokens(300)
                .addUserMessage("What's the weather in Lisbon?").addTool(anthropicTool("get_weather", "Current weather for a city", WEATHER_SCHEMA))
                .addTool(anthropicTool("get_time", "Local time in a timezone", TIME_SCHEMA)).build();

        Message whole = claude.messages().create(request);
        MessageAccumulator acc = MessageAccumulator.create();
        try (com.anthropic.core.http.StreamResponse<RawMessageStreamEvent> stream = claude.messages().createStreaming(request)) {
            stream.stream().forEach(acc::accumulate);
        }
        Message streamed = acc.message();

        for (Message m : List.of(whole, streamed)) {
            assertThat(m.stopReason()).hasValue(StopReason.TOOL_USE);
            ToolUseBlock use = m.content().stream().filter(ContentBlock::isToolUse).map(ContentBlock::asToolUse).findFirst().orElseThrow();
            assertThat(use.name()).isEqualTo("get_weather");
            JsonNode input = JSON.readTree(JSON.writeValueAsString(use._input().convert(Object.class)));
            assertValid(WEATHER_SCHEMA, input);
            assertThat(input.path("city").asText()).isEqualTo("Lisbon");
        }
    }

    @Test
    void anthropicToolResultsGetATextAnswer() {
        MessageCreateParams.Builder request = MessageCreateParams.builder().model("mock-gpt").maxTokens(300)
                .addUserMessage("What's the weather in Lisbon?")
                .addTool(anthropicTool("get_weather", "Current weather for a city", WEATHER_SCHEMA));
        Message call = claude.messages().create(request.build());
        ToolUseBlock use = call.content().stream().filter(ContentBlock::isToolUse).map(ContentBlock::asToolUse).findFirst().orElseThrow();

        Message answer = claude.messages().create(request.addMessage(call)
                .addUserMessageOfContentBlockParams(List.of(ContentBlockParam.ofToolResult(
                        ToolResultBlockParam.builder().toolUseId(use.id()).content("21 degrees").build())))
                .build());

        assertThat(answer.stopReason()).hasValue(StopReason.END_TURN);
        assertThat(answer.content()).singleElement()
                .satisfies(b -> assertThat(b.asText().text()).isEqualTo("The tool get_weather returned: 21 degrees."));
    }

    @Test
    void anthropicToolChoiceOfANamedToolIsHonoured() {
        Message m = claude.messages().create(MessageCreateParams.builder().model("mock-gpt").maxTokens(300)
                .addUserMessage("What's the weather in Lisbon?")
                .addTool(anthropicTool("get_weather", "Current weather for a city", WEATHER_SCHEMA))
                .addTool(anthropicTool("get_time", "Local time in a timezone", TIME_SCHEMA))
                .toolChoice(ToolChoiceTool.builder().name("get_time").build()).build());

        assertThat(m.content()).filteredOn(ContentBlock::isToolUse).singleElement()
                .satisfies(b -> assertThat(b.asToolUse().name()).isEqualTo("get_time"));
    }

    /** A schema that refers to itself, or asks for thousands of properties, costs little: depth and size are bounded. */
    @Test
    void recursiveAndHugeSchemasGiveBoundedArguments() throws Exception {
        StringBuilder many = new StringBuilder("{\"type\":\"object\",\"properties\":{");
        StringBuilder required = new StringBuilder();
        for (int i = 0; i < 500; i++) {
            many.append(i == 0 ? "" : ",").append("\"p").append(i).append("\":{\"type\":\"array\",\"minItems\":1000,\"items\":{\"type\":\"string\"}}");
            required.append(i == 0 ? "" : ",").append("\"p").append(i).append('"');
        }
        many.append("},\"required\":[").append(required).append("]}");
        String recursive = """
                {"type": "object", "properties": {"self": {"$ref": "#"}, "list": {"type": "array", "items": {"$ref": "#"}, "minItems": 2}},
                 "required": ["self", "list"]}""";

        for (String schema : List.of(recursive, many.toString())) {
            ChatCompletion c = openai.chat().completions().create(ChatCompletionCreateParams.builder().model("mock-gpt")
                    .addUserMessage("go").addTool(tool("deep", "a deep tool", schema))
                    .toolChoice(ChatCompletionToolChoiceOption.Auto.REQUIRED).build());
            String arguments = c.choices().get(0).message().toolCalls().orElseThrow().get(0).asFunction().function().arguments();
            assertThat(JSON.readTree(arguments).isObject()).isTrue();
            assertThat(arguments.length()).as("arguments for a bounded schema").isLessThan(64_000);
        }
    }

    // --- helpers

    static ChatCompletionCreateParams.Builder withTools(String prompt) {
        return ChatCompletionCreateParams.builder().model("mock-gpt").addUserMessage(prompt)
                .addTool(tool("get_weather", "Current weather for a city", WEATHER_SCHEMA))
                .addTool(tool("get_time", "Local time in a timezone", TIME_SCHEMA));
    }

    static ChatCompletionFunctionTool tool(String name, String description, String schema) {
        return ChatCompletionFunctionTool.builder().function(FunctionDefinition.builder().name(name).description(description)
                .parameters(FunctionParameters.builder().putAllAdditionalProperties(jsonValues(schema)).build()).build()).build();
    }

    static Tool anthropicTool(String name, String description, String schema) {
        Map<String, JsonValue> s = jsonValues(schema);
        Tool.InputSchema.Builder input = Tool.InputSchema.builder();
        s.forEach((k, v) -> {
            com.anthropic.core.JsonValue value = com.anthropic.core.JsonValue.from(v.convert(Object.class));
            switch (k) {
                case "type" -> { }
                case "properties" -> input.properties(value);
                case "required" -> input.required(v.convert(new TypeReference<List<String>>() { }));
                default -> input.putAdditionalProperty(k, value);
            }
        });
        return Tool.builder().name(name).description(description).inputSchema(input.build()).build();
    }

    static Map<String, JsonValue> jsonValues(String json) {
        try {
            Map<String, Object> map = JSON.readValue(json, new TypeReference<LinkedHashMap<String, Object>>() { });
            Map<String, JsonValue> out = new LinkedHashMap<>();
            map.forEach((k, v) -> out.put(k, JsonValue.from(v)));
            return out;
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    static List<String> names(ChatCompletion c) {
        return c.choices().get(0).message().toolCalls().orElseThrow().stream().map(t -> t.asFunction().function().name()).toList();
    }

    static List<String> arguments(ChatCompletion c) {
        return c.choices().get(0).message().toolCalls().orElseThrow().stream().map(t -> t.asFunction().function().arguments()).toList();
    }

    static void assertValid(String schema, JsonNode value) throws Exception {
        var errors = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(JSON.readTree(schema)).validate(value);
        assertThat(errors).as("%s against its schema", value).isEmpty();
    }
}
