package dev.caravan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionMessageToolCall;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Caravan in front of Mistral ({@code type: mistral}) and of OpenAI-compatible servers such as Ollama and vLLM
 * ({@code type: openai-compatible}). The upstreams answer with the shapes those servers publish; the tests assert
 * what the upstream receives and what an openai-java client sees.
 */
class MistralAndCompatibleTest {

    static final String MISTRAL_KEY = "mistral-key-0123456789abcdefABCDEF";
    static final ObjectMapper JSON = new ObjectMapper();
    static final String AUTH = "Bearer " + TestGateway.MASTER_KEY;
    static final String NINE_LETTERS_OR_DIGITS = "[A-Za-z0-9]{9}";

    @RegisterExtension
    static final UpstreamFixture upstreams = new UpstreamFixture();
    static MockWebServer mistral;
    static MockWebServer ollama;
    static Path keyFile;
    static TestGateway gateway;
    static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        mistral = upstreams.server();
        ollama = upstreams.server();
        keyFile = upstreams.keyFile("mistral", MISTRAL_KEY + "\n");
        gateway = upstreams.gateway("""
                providers:
                  mistral: { type: mistral, baseUrl: "%s", apiKey: "${file:%s}" }
                  ollama: { type: openai-compatible, baseUrl: "%s" }
                models:
                  - name: mistral-large
                    deployments: [ { provider: mistral, model: mistral-large-latest } ]
                  - name: mistral-limited         # its own deployment: a 429 cools it down, not mistral-large
                    deployments: [ { id: mistral-limited, provider: mistral, model: mistral-small-latest } ]
                  - name: mistral-embed
                    deployments: [ { provider: mistral, model: mistral-embed } ]
                  - name: llama
                    deployments: [ { provider: ollama, model: "llama3.1:8b" } ]
                  - name: nomic
                    deployments: [ { provider: ollama, model: "nomic-embed-text" } ]
                routing:
                  retries: 0
                  breaker: { minimumCalls: 1000, window: 1000 }
                """.formatted(mistral.url("/v1"), keyFile, ollama.url("/v1")));
        client = upstreams.openai();
    }

    // ---- wire fixtures, as each server publishes them ----

    static MockResponse json(int status, String body) {
        return new MockResponse().setResponseCode(status).setHeader("Content-Type", "application/json").setBody(body);
    }

    static MockResponse sse(String... events) {
        StringBuilder body = new StringBuilder();
        for (String e : events) {
            body.append("data: ").append(e).append("\n\n");
        }
        return new MockResponse().setHeader("Content-Type", "text/event-stream; charset=utf-8").setBody(body.toString());
    }

    /** Mistral's chat completion: its own id style, {@code tool_calls: null} on a plain answer. */
    static MockResponse mistralCompletion(String content) {
        return json(200, """
                {"id":"cmpl-e5cc70bb28c444948073e77776eb30ef","object":"chat.completion","created":1702256327,
                 "model":"mistral-large-latest","choices":[{"index":0,"message":{"role":"assistant","content":"%s",
                 "tool_calls":null},"finish_reason":"stop"}],
                 "usage":{"prompt_tokens":16,"completion_tokens":34,"total_tokens":50}}""".formatted(content));
    }

    static String mistralChunk(String choiceJson, String usageJson) {
        return "{\"id\":\"cmpl-a1b2c3d4e5f6\",\"object\":\"chat.completion.chunk\",\"created\":1702256327,"
                + "\"model\":\"mistral-large-latest\",\"choices\":[" + choiceJson + "]"
                + (usageJson == null ? "" : ",\"usage\":" + usageJson) + "}";
    }

    static final String MISTRAL_USAGE = "{\"prompt_tokens\":10,\"total_tokens\":15,\"completion_tokens\":5}";

    /** Mistral's text stream: usage rides on the chunk that carries finish_reason; no separate usage chunk. */
    static MockResponse mistralTextStream() {
        return sse(
                mistralChunk("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}", null),
                mistralChunk("{\"index\":0,\"delta\":{\"content\":\"Bonjour\"},\"finish_reason\":null}", null),
                mistralChunk("{\"index\":0,\"delta\":{\"content\":\" Paris\"},\"finish_reason\":null}", null),
                mistralChunk("{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"stop\"}", MISTRAL_USAGE),
                "[DONE]");
    }

    static String ollamaChunk(String delta, String finish) {
        return "{\"id\":\"chatcmpl-471\",\"object\":\"chat.completion.chunk\",\"created\":1721000000,\"model\":\"llama3.1:8b\","
                + "\"system_fingerprint\":\"fp_ollama\",\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":"
                + (finish == null ? "null" : "\"" + finish + "\"") + "}]}";
    }

    static String weatherCall(String city) {
        return "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"" + city + "\\\"}\"}}";
    }

    static JsonNode sentBody(MockWebServer server) throws Exception {
        RecordedRequest sent = server.takeRequest(2, TimeUnit.SECONDS);
        assertThat(sent).as("the upstream was called").isNotNull();
        return JSON.readTree(sent.getBody().readUtf8());
    }

    static ChatCompletion accumulate(ChatCompletionCreateParams params) {
        ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
            s.stream().forEach(acc::accumulate);
        }
        return acc.chatCompletion();
    }

    // ---- Mistral: the request as Mistral accepts it ----

    @Test
    void mistralGetsOnlyFieldsItAcceptsUnderItsOwnNames() throws Exception {
        mistral.enqueue(mistralCompletion("Sunny."));
        HttpResponse<String> r = gateway.post("/v1/chat/completions", """
                {"model":"mistral-large","messages":[{"role":"user","content":"Weather in Paris?"}],
                 "max_completion_tokens":256,"seed":42,"temperature":0.3,"top_p":0.9,
                 "user":"user-1234","safety_identifier":"hashed-user","logit_bias":{"1734":-100},"logprobs":true,
                 "top_logprobs":2,"service_tier":"auto","store":false,"metadata":{"team":"search"},"verbosity":"low",
                 "tool_choice":"required","parallel_tool_calls":false,
                 "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather",
                   "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]}""",
                "Authorization", AUTH);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(JSON.readTree(r.body()).at("/choices/0/message/content").asText()).isEqualTo("Sunny.");

        RecordedRequest sent = mistral.takeRequest(2, TimeUnit.SECONDS);
        assertThat(sent.getPath()).isEqualTo("/v1/chat/completions");
        assertThat(sent.getHeader("Authorization")).isEqualTo("Bearer " + MISTRAL_KEY);
        JsonNode body = JSON.readTree(sent.getBody().readUtf8());
        assertThat(body.get("model").asText()).isEqualTo("mistral-large-latest");
        for (String refused : List.of("user", "safety_identifier", "logit_bias", "logprobs", "top_logprobs",
                "service_tier", "store", "metadata", "verbosity", "stream_options", "max_completion_tokens", "seed")) {
            assertThat(body.has(refused)).as(refused + " is not sent to Mistral").isFalse();
        }
        assertThat(body.get("max_tokens").asInt()).isEqualTo(256);
        assertThat(body.get("random_seed").asInt()).isEqualTo(42);
        assertThat(body.get("tool_choice").asText()).isEqualTo("any");
        assertThat(body.get("temperature").asDouble()).isEqualTo(0.3);
        assertThat(body.get("parallel_tool_calls").asBoolean()).isFalse();
        assertThat(body.at("/tools/0/function/name").asText()).isEqualTo("get_weather");
    }

    @Test
    void mistralGetsToolIdsItAccepts() throws Exception {
        String conversation = """
                {"model":"mistral-large","messages":[
                  {"role":"user","content":"Weather in Paris and Rome?"},
                  {"role":"assistant","content":null,"tool_calls":[
                    {"id":"toolu_01A09q90qw90lq917835lq9","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}},
                    {"id":"call_abc123def456","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Rome\\"}"}}]},
                  {"role":"tool","tool_call_id":"toolu_01A09q90qw90lq917835lq9","content":"18C"},
                  {"role":"tool","tool_call_id":"call_abc123def456","content":"21C"},
                  {"role":"assistant","content":"Paris 18C, Rome 21C."},
                  {"role":"user","content":"And Berlin?"},
                  {"role":"assistant","content":"","tool_calls":[
                    {"id":"D681PevKs","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Berlin\\"}"}}]},
                  {"role":"tool","tool_call_id":"D681PevKs","content":"15C"}]}""";
        mistral.enqueue(mistralCompletion("Berlin 15C."));
        mistral.enqueue(mistralCompletion("Berlin 15C."));
        assertThat(gateway.post("/v1/chat/completions", conversation, "Authorization", AUTH).statusCode()).isEqualTo(200);
        JsonNode first = sentBody(mistral).get("messages");
        assertThat(gateway.post("/v1/chat/completions", conversation, "Authorization", AUTH).statusCode()).isEqualTo(200);
        JsonNode second = sentBody(mistral).get("messages");

        String paris = first.at("/1/tool_calls/0/id").asText();
        String rome = first.at("/1/tool_calls/1/id").asText();
        assertThat(List.of(paris, rome)).allMatch(id -> id.matches(NINE_LETTERS_OR_DIGITS));
        assertThat(paris).isNotEqualTo(rome);
        assertThat(first.at("/2/tool_call_id").asText()).as("the tool result follows its call").isEqualTo(paris);
        assertThat(first.at("/3/tool_call_id").asText()).isEqualTo(rome);
        assertThat(first.at("/6/tool_calls/0/id").asText()).as("Mistral's own id is kept").isEqualTo("D681PevKs");
        assertThat(first.at("/7/tool_call_id").asText()).isEqualTo("D681PevKs");
        assertThat(second).as("the same conversation maps to the same ids every turn").isEqualTo(first);
        assertThat(first.at("/1/tool_calls/0/function/arguments").asText()).isEqualTo("{\"city\":\"Paris\"}");
    }

    // ---- Mistral: streams ----

    @Test
    void mistralStreamUsageReachesAClientThatAskedForIt() throws Exception {
        mistral.enqueue(mistralTextStream());
        ChatCompletion whole = accumulate(ChatCompletionCreateParams.builder().model("mistral-large")
                .addUserMessage("Say hello to Paris").maxCompletionTokens(50)
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build());

        assertThat(whole.choices().get(0).message().content()).hasValue("Bonjour Paris");
        assertThat(whole.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
        assertThat(whole.usage()).as("usage reached the client").isPresent();
        assertThat(whole.usage().get().promptTokens()).isEqualTo(10);
        assertThat(whole.usage().get().completionTokens()).isEqualTo(5);

        JsonNode sent = sentBody(mistral);
        assertThat(sent.get("stream").asBoolean()).isTrue();
        assertThat(sent.has("stream_options")).as("Mistral refuses stream_options").isFalse();
        assertThat(sent.get("max_tokens").asInt()).isEqualTo(50);
    }

    @Test
    void mistralStreamWithoutUsageAskedGivesTextAndACleanEnd() {
        mistral.enqueue(mistralTextStream());
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                "{\"model\":\"mistral-large\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("\"content\":\"Bonjour\"", "\"content\":\" Paris\"", "\"finish_reason\":\"stop\"");
        assertThat(r.body()).as("usage the client did not ask for").doesNotContain("prompt_tokens");
        assertThat(r.body()).doesNotContain("\"error\"").endsWith("data: [DONE]\n\n");

        mistral.enqueue(mistralTextStream());
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(
                ChatCompletionCreateParams.builder().model("mistral-large").addUserMessage("hi").build())) {
            s.stream().forEach(chunks::add);
        }
        StringBuilder text = new StringBuilder();
        chunks.forEach(c -> c.choices().forEach(ch -> ch.delta().content().ifPresent(text::append)));
        assertThat(text.toString()).isEqualTo("Bonjour Paris");
        assertThat(chunks).noneMatch(c -> c.usage().isPresent());
    }

    @Test
    void mistralToolCallStreamedWholeBecomesAValidToolCall() throws Exception {
        mistral.enqueue(sse(
                mistralChunk("{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}", null),
                mistralChunk("{\"index\":0,\"delta\":{\"content\":\"\",\"tool_calls\":[{\"id\":\"D681PevKs\",\"function\":"
                        + "{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"},\"index\":0}]},"
                        + "\"finish_reason\":\"tool_calls\"}",
                        "{\"prompt_tokens\":75,\"total_tokens\":98,\"completion_tokens\":23}"),
                "[DONE]"));
        ChatCompletion whole = accumulate(ChatCompletionCreateParams.builder().model("mistral-large")
                .addUserMessage("Weather in Paris?")
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build());

        ChatCompletion.Choice choice = whole.choices().get(0);
        assertThat(choice.finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
        List<ChatCompletionMessageToolCall> calls = choice.message().toolCalls().orElseThrow();
        assertThat(calls).hasSize(1);
        ChatCompletionMessageFunctionToolCall call = calls.get(0).asFunction();
        assertThat(call.id()).isEqualTo("D681PevKs");
        assertThat(call.function().name()).isEqualTo("get_weather");
        assertThat(JSON.readTree(call.function().arguments()).get("city").asText()).isEqualTo("Paris");
        assertThat(whole.usage().orElseThrow().totalTokens()).isEqualTo(98);
    }

    // ---- Mistral: embeddings ----

    static final String MISTRAL_EMBEDDINGS = """
            {"id":"embd-aad6fc62b17349b192ef09225058bc45","object":"list","data":[
              {"object":"embedding","embedding":[-0.016632080078125,0.0701904296875,0.03143310546875],"index":0},
              {"object":"embedding","embedding":[-0.0230560302734375,0.039337158203125,0.0489501953125],"index":1}],
             "model":"mistral-embed","usage":{"prompt_tokens":15,"total_tokens":15,"completion_tokens":0}}""";

    @Test
    void compatibleServerEmbeddingsWithoutUsageAreCountedByTheGateway() throws Exception {
        // Ollama's /v1/embeddings answer (it reports usage; older servers and some others do not: here, none)
        ollama.enqueue(json(200, """
                {"object":"list","data":[{"object":"embedding","embedding":[0.011,-0.052,0.093],"index":0}],
                 "model":"nomic-embed-text"}"""));
        CreateEmbeddingResponse r = client.embeddings().create(EmbeddingCreateParams.builder().model("nomic")
                .input("The quick brown fox").build());
        assertThat(r.data().get(0).embedding()).containsExactly(0.011f, -0.052f, 0.093f);
        assertThat(r.usage().promptTokens()).isEqualTo(4);
        assertThat(r.usage()._additionalProperties().get("caravan_estimated").asBoolean()).hasValue(true);
        RecordedRequest sent = ollama.takeRequest(2, TimeUnit.SECONDS);
        assertThat(sent.getPath()).isEqualTo("/v1/embeddings");
        assertThat(JSON.readTree(sent.getBody().readUtf8()).get("model").asText()).isEqualTo("nomic-embed-text");
    }

    @Test
    void mistralEmbeddingsPassThroughAsFloats() throws Exception {
        mistral.enqueue(json(200, MISTRAL_EMBEDDINGS));
        CreateEmbeddingResponse r = client.embeddings().create(EmbeddingCreateParams.builder().model("mistral-embed")
                .inputOfArrayOfStrings(List.of("Embed this sentence.", "As well as this one."))
                .encodingFormat(EmbeddingCreateParams.EncodingFormat.FLOAT).build());
        assertThat(r.data()).hasSize(2);
        assertThat(r.data().get(0).embedding()).containsExactly(-0.016632080078125f, 0.0701904296875f, 0.03143310546875f);
        assertThat(r.data().get(1).embedding()).containsExactly(-0.0230560302734375f, 0.039337158203125f, 0.0489501953125f);
        assertThat(r.usage().promptTokens()).isEqualTo(15);

        RecordedRequest sent = mistral.takeRequest(2, TimeUnit.SECONDS);
        assertThat(sent.getPath()).isEqualTo("/v1/embeddings");
        assertThat(sent.getHeader("Authorization")).isEqualTo("Bearer " + MISTRAL_KEY);
        JsonNode body = JSON.readTree(sent.getBody().readUtf8());
        assertThat(body.get("model").asText()).isEqualTo("mistral-embed");
        assertThat(body.get("input")).hasSize(2);
    }

    @Test
    void mistralEmbeddingsInBase64AreEncodedByTheGatewayFromMistralsFloats() throws Exception {
        mistral.enqueue(json(200, MISTRAL_EMBEDDINGS));
        HttpResponse<String> r = gateway.post("/v1/embeddings", """
                {"model":"mistral-embed","input":["Embed this sentence.","As well as this one."],
                 "encoding_format":"base64","user":"user-1234"}""", "Authorization", AUTH);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode data = JSON.readTree(r.body()).get("data");
        assertThat(data).hasSize(2);
        float[][] expected = {{-0.016632080078125f, 0.0701904296875f, 0.03143310546875f},
                {-0.0230560302734375f, 0.039337158203125f, 0.0489501953125f}};
        for (int i = 0; i < expected.length; i++) {
            assertThat(data.get(i).get("index").asInt()).isEqualTo(i);
            ByteBuffer buf = ByteBuffer.wrap(Base64.getDecoder().decode(data.get(i).get("embedding").asText()))
                    .order(ByteOrder.LITTLE_ENDIAN);
            assertThat(buf.remaining()).isEqualTo(4 * expected[i].length);
            for (float f : expected[i]) {
                assertThat(buf.getFloat()).isEqualTo(f);
            }
        }
        JsonNode sent = sentBody(mistral);
        assertThat(sent.has("encoding_format")).as("Mistral is asked for floats").isFalse();
        assertThat(sent.has("user")).isFalse();
    }

    @Test
    void mistralEmbeddingsGetOutputDimensionForDimensions() throws Exception {
        mistral.enqueue(json(200, MISTRAL_EMBEDDINGS));
        CreateEmbeddingResponse r = client.embeddings().create(EmbeddingCreateParams.builder().model("mistral-embed")
                .inputOfArrayOfStrings(List.of("a", "b")).dimensions(3)
                .encodingFormat(EmbeddingCreateParams.EncodingFormat.FLOAT).build());
        assertThat(r.data()).hasSize(2);
        JsonNode sent = sentBody(mistral);
        assertThat(sent.has("dimensions")).as("an OpenAI name Mistral refuses").isFalse();
        assertThat(sent.get("output_dimension").asInt()).isEqualTo(3);
    }

    // ---- Mistral: errors ----

    @Test
    void mistralValidationErrorReachesTheClientAs4xxWithTheFieldAndReason() throws Exception {
        mistral.enqueue(json(422, """
                {"object":"error","message":{"detail":[{"type":"extra_forbidden","loc":["body","frequency_penaltyy"],
                 "msg":"Extra inputs are not permitted","input":0.5,"url":"https://errors.pydantic.dev/2.10/v/extra_forbidden"}]},
                 "type":"invalid_request_error","param":null,"code":null}"""));
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                "{\"model\":\"mistral-large\",\"frequency_penaltyy\":0.5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "Authorization", AUTH);
        assertThat(r.statusCode()).isBetween(400, 499);
        JsonNode error = JSON.readTree(r.body()).get("error");
        assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.get("message").asText()).contains("body.frequency_penaltyy: Extra inputs are not permitted")
                .doesNotContain("\"input\"");
    }

    @Test
    void mistralContextOverflowIsContextLengthExceeded() {
        mistral.enqueue(json(400, """
                {"object":"error","message":"Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length",
                 "type":"invalid_request_error","param":null,"code":null}"""));
        assertThatThrownBy(() -> client.chat().completions().create(ChatCompletionCreateParams.builder()
                .model("mistral-large").addUserMessage("a very long prompt").build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(400);
                    assertThat(e.code()).hasValue("context_length_exceeded");
                    assertThat(e.getMessage()).contains("32768 maximum context length");
                });
    }

    @Test
    void mistralRateLimitIs429WithItsRetryAfter() throws Exception {
        mistral.enqueue(json(429, """
                {"object":"error","message":"Rate limit exceeded","type":"rate_limited","param":null,"code":"1300"}""")
                .setHeader("Retry-After", "3"));
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                "{\"model\":\"mistral-limited\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(429);
        assertThat(r.headers().firstValue("retry-after")).hasValue("3");
        assertThat(JSON.readTree(r.body()).at("/error/message").asText()).contains("Rate limit exceeded");
        // Mistral's own type and code ("rate_limited", "1300") become OpenAI's words, which clients switch on
        assertThat(JSON.readTree(r.body()).at("/error/type").asText()).isEqualTo("rate_limit_error");
        assertThat(JSON.readTree(r.body()).at("/error/code").asText()).isEqualTo("rate_limit_exceeded");
        assertThat(sentBody(mistral).get("model").asText()).as("one attempt, at Mistral").isEqualTo("mistral-small-latest");
        assertThat(mistral.takeRequest(200, TimeUnit.MILLISECONDS)).as("no retry").isNull();
    }

    // ---- OpenAI-compatible servers (Ollama, vLLM) ----

    @Test
    void compatibleServerGetsMaxTokensAndNoCredentialItWasNotGiven() throws Exception {
        ollama.enqueue(json(200, """
                {"id":"chatcmpl-318","object":"chat.completion","created":1721000000,"model":"llama3.1:8b",
                 "system_fingerprint":"fp_ollama","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},
                 "finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"""));
        ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder().model("llama")
                .addUserMessage("hi").maxCompletionTokens(64).seed(7).build());
        assertThat(c.choices().get(0).message().content()).hasValue("Hi!");

        RecordedRequest sent = ollama.takeRequest(2, TimeUnit.SECONDS);
        assertThat(sent.getPath()).isEqualTo("/v1/chat/completions");
        assertThat(sent.getHeader("Authorization")).isNull();
        JsonNode body = JSON.readTree(sent.getBody().readUtf8());
        assertThat(body.get("model").asText()).isEqualTo("llama3.1:8b");
        assertThat(body.has("max_completion_tokens")).isFalse();
        assertThat(body.get("max_tokens").asInt()).isEqualTo(64);
        assertThat(body.get("seed").asInt()).as("compatible servers take seed as is").isEqualTo(7);
    }

    @Test
    void compatibleStreamToolCallsWithoutIndexOrIdEndAsToolCalls() throws Exception {
        ollama.enqueue(sse(
                ollamaChunk("{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[" + weatherCall("Paris") + ","
                        + weatherCall("Rome") + "]}", null),
                ollamaChunk("{\"role\":\"assistant\",\"content\":\"\"}", "stop"),
                "[DONE]"));
        ChatCompletion whole = accumulate(ChatCompletionCreateParams.builder().model("llama")
                .addUserMessage("Weather in Paris and Rome?").build());

        ChatCompletion.Choice choice = whole.choices().get(0);
        assertThat(choice.finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
        List<ChatCompletionMessageToolCall> calls = choice.message().toolCalls().orElseThrow();
        assertThat(calls).hasSize(2);
        List<String> cities = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        for (ChatCompletionMessageToolCall c : calls) {
            ChatCompletionMessageFunctionToolCall call = c.asFunction();
            ids.add(call.id());
            assertThat(call.function().name()).isEqualTo("get_weather");
            cities.add(JSON.readTree(call.function().arguments()).get("city").asText());
        }
        assertThat(cities).containsExactly("Paris", "Rome");
        assertThat(ids).allMatch(id -> !id.isBlank()).doesNotHaveDuplicates();

        JsonNode sent = sentBody(ollama);
        assertThat(sent.at("/stream_options/include_usage").asBoolean()).as("usage asked of the upstream").isTrue();
    }

    @Test
    void compatibleStreamWithEachToolCallInItsOwnChunkKeepsThemApart() throws Exception {
        ollama.enqueue(sse(
                ollamaChunk("{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[" + weatherCall("Paris") + "]}", null),
                ollamaChunk("{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[" + weatherCall("Rome") + "]}", null),
                ollamaChunk("{\"role\":\"assistant\",\"content\":\"\"}", "stop"),
                "[DONE]"));
        ChatCompletion whole = accumulate(ChatCompletionCreateParams.builder().model("llama")
                .addUserMessage("Weather in Paris and Rome?").build());

        List<ChatCompletionMessageToolCall> calls = whole.choices().get(0).message().toolCalls().orElseThrow();
        assertThat(calls).hasSize(2);
        assertThat(JSON.readTree(calls.get(0).asFunction().function().arguments()).get("city").asText()).isEqualTo("Paris");
        assertThat(JSON.readTree(calls.get(1).asFunction().function().arguments()).get("city").asText()).isEqualTo("Rome");
        assertThat(calls.get(0).asFunction().id()).isNotEqualTo(calls.get(1).asFunction().id());
    }

    @Test
    void compatibleToolCallTurnEndingWithStopEndsWithToolCallsAndFreshIds() throws Exception {
        String ollamaToolTurn = """
                {"id":"chatcmpl-592","object":"chat.completion","created":1721000000,"model":"llama3.1:8b",
                 "system_fingerprint":"fp_ollama","choices":[{"index":0,"message":{"role":"assistant","content":"",
                 "tool_calls":[{"type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]},
                 "finish_reason":"stop"}],"usage":{"prompt_tokens":95,"completion_tokens":18,"total_tokens":113}}""";
        ollama.enqueue(json(200, ollamaToolTurn));
        ollama.enqueue(json(200, ollamaToolTurn));
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model("llama")
                .addUserMessage("Weather in Paris?").build();
        ChatCompletion first = client.chat().completions().create(params);
        ChatCompletion second = client.chat().completions().create(params);

        assertThat(first.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.TOOL_CALLS);
        ChatCompletionMessageFunctionToolCall call = first.choices().get(0).message().toolCalls().orElseThrow().get(0).asFunction();
        assertThat(call.id()).isNotBlank();
        assertThat(JSON.readTree(call.function().arguments()).get("city").asText()).isEqualTo("Paris");
        String secondId = second.choices().get(0).message().toolCalls().orElseThrow().get(0).asFunction().id();
        assertThat(secondId).as("ids stay unique across the turns of one conversation").isNotEqualTo(call.id());
    }

    @Test
    void vllmContextOverflowIsContextLengthExceeded() {
        ollama.enqueue(json(400, """
                {"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.",
                 "type":"BadRequestError","param":null,"code":400}"""));
        assertThatThrownBy(() -> client.chat().completions().create(ChatCompletionCreateParams.builder()
                .model("llama").addUserMessage("a very long prompt").build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> {
                    assertThat(e.code()).hasValue("context_length_exceeded");
                    assertThat(e.getMessage()).contains("maximum context length is 4096 tokens");
                });
    }

    @Test
    void ollamaMissingModelReachesTheClientInOllamasWords() throws Exception {
        ollama.enqueue(json(404, "{\"error\":\"model \\\"llama3\\\" not found, try pulling it first\"}"));
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                "{\"model\":\"llama\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(502);
        JsonNode error = JSON.readTree(r.body()).get("error");
        assertThat(error.get("code").asText()).isEqualTo("upstream_not_found");
        assertThat(error.get("message").asText()).contains("model \"llama3\" not found, try pulling it first");
    }
}
