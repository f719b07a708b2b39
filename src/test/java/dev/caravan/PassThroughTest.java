package dev.caravan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.core.http.HttpResponseFor;
import com.openai.core.http.StreamResponse;
import com.openai.helpers.ResponseAccumulator;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseIncludable;
import com.openai.models.responses.ResponseOutputItem;
import com.openai.models.responses.ResponseStreamEvent;
import com.openai.models.responses.WebSearchTool;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the canonical chat request does not model passes through to the upstreams that serve it themselves: a
 * Responses request with a hosted tool (web search) to OpenAI's own /responses, a text completion to a server with
 * /completions. The upstream here speaks OpenAI's real wire (whole JSON and the SSE event sequence); the clients are
 * openai-java's, and what they get is the upstream's own answer, charged from the usage it reported.
 */
class PassThroughTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String AUTH = "Bearer " + TestGateway.MASTER_KEY;
    static final String REDACTING = "sk-pass-redacting-0123456789";
    static final String MASKING_INPUT = "sk-pass-masking-in-0123456789";
    static final String DENYING = "sk-pass-denying-0123456789";
    static final String TEXT = "Caravan shipped pass-through today.";
    static final String CONTACT_TEXT = "Write to jane.doe@example.com for details.";

    @RegisterExtension
    static final UpstreamFixture upstreams = new UpstreamFixture();
    static MockWebServer openai;
    static String providerKey;
    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        openai = upstreams.server(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
                return answer(request);
            }
        });
        providerKey = TestGateway.fakeProviderKey("sk-proj-");
        Path keyFile = upstreams.keyFile("openai", providerKey);
        gateway = upstreams.gateway("""
                providers:
                  openai: { type: openai, baseUrl: "%1$s", apiKey: "${file:%2$s}" }
                  vllm: { type: openai-compatible, baseUrl: "%1$s", completions: true }
                  plain: { type: openai-compatible, baseUrl: "%1$s" }
                  mock: { type: mock }
                models:
                  - name: gpt-search
                    deployments: [ { provider: openai, model: gpt-4.1-upstream, price: { input: 2, output: 8 } } ]
                  - name: gpt-mixed               # the mock first: a hosted tool skips it
                    strategy: ordered
                    deployments:
                      - { provider: mock, model: mock-gpt }
                      - { provider: openai, model: gpt-4.1-upstream }
                  - name: gpt-retry               # the first OpenAI deployment fails: the second answers
                    strategy: ordered
                    deployments:
                      - { provider: openai, model: broken }
                      - { provider: openai, model: gpt-4.1-upstream }
                  - name: mock-only
                    deployments: [ { provider: mock, model: mock-gpt } ]
                  - name: instruct
                    deployments: [ { provider: vllm, model: instruct-upstream, price: { input: 1, output: 1 } } ]
                  - name: chatty
                    deployments: [ { provider: plain, model: chat-upstream } ]
                keys:
                  - { id: redacting, sha256: "%3$s", guardrails: redacting }
                  - { id: masking-input, sha256: "%4$s", guardrails: masking-input }
                  - { id: denying, sha256: "%5$s", guardrails: denying }
                cache:
                  exact: { enabled: true, ttl: 10m }
                guardrails:
                  policies:
                    redacting:
                      pii: { entities: [email], input: "off", output: redact }
                    masking-input:
                      pii: { entities: [email], input: mask, output: "off" }
                    denying:
                      pii: { input: "off" }
                      deny: [ "(?i)forbidden topic" ]
                """.formatted(openai.url("/v1"), keyFile, sha(REDACTING), sha(MASKING_INPUT), sha(DENYING)));
    }

    // ---- the upstream: OpenAI's wire ----

    static MockResponse answer(RecordedRequest request) {
        try {
            JsonNode body = JSON.readTree(request.getBody().clone().readUtf8()); // sent() reads it again
            String path = request.getPath();
            if ("broken".equals(body.path("model").asText())) {
                return new MockResponse().setResponseCode(500).setHeader("Content-Type", "application/json")
                        .setBody("{\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}");
            }
            if (path.endsWith("/responses")) {
                String text = body.toString().contains("contact") ? CONTACT_TEXT : TEXT;
                return body.path("stream").asBoolean(false) ? sse(responseEvents(text)) : json(response(text, "completed"));
            }
            if (path.endsWith("/completions") && !path.endsWith("/chat/completions")) {
                return body.path("stream").asBoolean(false) ? sse(completionChunks()) : json(completion(body));
            }
            return json("""
                    {"id":"chatcmpl-9","object":"chat.completion","created":1700000000,"model":"chat-upstream",
                     "choices":[{"index":0,"message":{"role":"assistant","content":"a chat answer"},"finish_reason":"stop"}],
                     "usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}""");
        } catch (Exception e) {
            return new MockResponse().setResponseCode(500).setBody(e.toString());
        }
    }

    static MockResponse json(String body) {
        return new MockResponse().setHeader("Content-Type", "application/json").setBody(body);
    }

    static MockResponse sse(List<String[]> events) {
        StringBuilder out = new StringBuilder();
        for (String[] e : events) {
            if (e[0] != null) {
                out.append("event: ").append(e[0]).append('\n');
            }
            out.append("data: ").append(e[1]).append("\n\n");
        }
        return new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(out.toString());
    }

    static String webSearchItem(String status) {
        return """
                {"type":"web_search_call","id":"ws_67ccd3aa1d3881","status":"%s",
                 "action":{"type":"search","query":"caravan gateway news"}}""".formatted(status);
    }

    static String messageItem(String text, String status) throws Exception {
        ObjectNode part = JSON.createObjectNode().put("type", "output_text").put("text", text);
        part.putArray("annotations").addObject().put("type", "url_citation").put("start_index", 0).put("end_index", 7)
                .put("url", "https://example.com/caravan").put("title", "Caravan");
        part.putArray("logprobs");
        ObjectNode item = JSON.createObjectNode().put("type", "message").put("id", "msg_67ccd3acc8d481")
                .put("status", status).put("role", "assistant");
        item.putArray("content").add(part);
        return JSON.writeValueAsString(item);
    }

    /** A whole response, as OpenAI writes one: a web search, then the message citing it, then usage. */
    static String response(String text, String status) throws Exception {
        return """
                {"id":"resp_67ccd3a9da7481","object":"response","created_at":1741476777,"status":"%s","background":false,
                 "error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,
                 "model":"gpt-4.1-2025-04-14","output":[%s,%s],"parallel_tool_calls":true,"previous_response_id":null,
                 "reasoning":{"effort":null,"summary":null},"store":true,"temperature":1.0,
                 "text":{"format":{"type":"text"}},"tool_choice":"auto",
                 "tools":[{"type":"web_search","search_context_size":"medium"}],"top_p":1.0,"truncation":"disabled",
                 "usage":{"input_tokens":328,"input_tokens_details":{"cached_tokens":128},"output_tokens":356,
                          "output_tokens_details":{"reasoning_tokens":64},"total_tokens":684},
                 "user":null,"metadata":{}}""".formatted(status, webSearchItem("completed"), messageItem(text, "completed"))
                .replace("\n", "");
    }

    /** OpenAI's event sequence for that response, the text in three deltas. */
    static List<String[]> responseEvents(String text) throws Exception {
        List<String[]> events = new ArrayList<>();
        String inProgress = response(text, "in_progress").replaceFirst("\"output\":\\[.*\\],\"parallel", "\"output\":[],\"parallel")
                .replaceFirst(",\"usage\":\\{[^}]*\\{[^}]*\\}[^}]*\\{[^}]*\\}[^}]*\\}", ",\"usage\":null");
        int third = text.length() / 3;
        String[] deltas = {text.substring(0, third), text.substring(third, 2 * third), text.substring(2 * third)};
        String msg = "\"item_id\":\"msg_67ccd3acc8d481\",\"output_index\":1,\"content_index\":0";
        String emptyPart = "{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":\"\"}";
        List<String> data = new ArrayList<>(List.of(
                "{\"type\":\"response.created\",\"response\":" + inProgress + "}",
                "{\"type\":\"response.in_progress\",\"response\":" + inProgress + "}",
                "{\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":" + webSearchItem("in_progress") + "}",
                "{\"type\":\"response.web_search_call.in_progress\",\"output_index\":0,\"item_id\":\"ws_67ccd3aa1d3881\"}",
                "{\"type\":\"response.web_search_call.searching\",\"output_index\":0,\"item_id\":\"ws_67ccd3aa1d3881\"}",
                "{\"type\":\"response.web_search_call.completed\",\"output_index\":0,\"item_id\":\"ws_67ccd3aa1d3881\"}",
                "{\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":" + webSearchItem("completed") + "}",
                "{\"type\":\"response.output_item.added\",\"output_index\":1,\"item\":{\"type\":\"message\","
                        + "\"id\":\"msg_67ccd3acc8d481\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}",
                "{\"type\":\"response.content_part.added\"," + msg + ",\"part\":" + emptyPart + "}"));
        for (String d : deltas) {
            data.add("{\"type\":\"response.output_text.delta\"," + msg + ",\"delta\":" + JSON.writeValueAsString(d)
                    + ",\"logprobs\":[]}");
        }
        data.add("{\"type\":\"response.output_text.done\"," + msg + ",\"text\":" + JSON.writeValueAsString(text)
                + ",\"logprobs\":[]}");
        ObjectNode part = (ObjectNode) JSON.readTree(messageItem(text, "completed")).path("content").get(0);
        data.add("{\"type\":\"response.content_part.done\"," + msg + ",\"part\":" + part + "}");
        data.add("{\"type\":\"response.output_item.done\",\"output_index\":1,\"item\":" + messageItem(text, "completed") + "}");
        data.add("{\"type\":\"response.completed\",\"response\":" + response(text, "completed") + "}");
        for (int i = 0; i < data.size(); i++) {
            ObjectNode e = (ObjectNode) JSON.readTree(data.get(i));
            e.put("sequence_number", i);
            events.add(new String[] {e.path("type").asText(), JSON.writeValueAsString(e)});
        }
        return events;
    }

    static String completion(JsonNode request) {
        String prefix = request.path("echo").asBoolean(false) ? request.path("prompt").asText() : "";
        return """
                {"id":"cmpl-up1","object":"text_completion","created":1700000000,"model":"instruct-upstream",
                 "choices":[{"text":"%s This is indeed a test","index":0,"finish_reason":"length",
                   "logprobs":{"tokens":[" This"," is"],"token_logprobs":[-0.25,-0.5],"top_logprobs":null,"text_offset":[0,5]}}],
                 "usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}""".formatted(prefix);
    }

    static List<String[]> completionChunks() {
        String head = "{\"id\":\"cmpl-up2\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"instruct-upstream\",";
        return List.of(
                new String[] {null, head + "\"choices\":[{\"text\":\" This is\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}]}"},
                new String[] {null, head + "\"choices\":[{\"text\":\" indeed a test\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"length\"}]}"},
                new String[] {null, head + "\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"total_tokens\":12}}"},
                new String[] {null, "[DONE]"});
    }

    // ---- helpers ----

    static String sha(String key) {
        return java.util.HexFormat.of().formatHex(dev.caravan.auth.KeyAuthenticator.sha256(key));
    }

    static ResponseCreateParams.Builder webSearch(String model, String input) {
        return ResponseCreateParams.builder().model(model).input(input)
                .addTool(WebSearchTool.builder().type(WebSearchTool.Type.WEB_SEARCH).build())
                .addInclude(ResponseIncludable.WEB_SEARCH_CALL_ACTION_SOURCES);
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

    static HttpResponse<String> post(String path, String body, String key) {
        return gateway.post(path, body, "Authorization", "Bearer " + key, "Content-Type", "application/json");
    }

    static JsonNode sent() throws Exception {
        RecordedRequest r = openai.takeRequest(2, TimeUnit.SECONDS);
        assertThat(r).as("the upstream was called").isNotNull();
        JsonNode body = JSON.readTree(r.getBody().readUtf8());
        ((ObjectNode) body).put("_path", r.getPath()).put("_auth", String.valueOf(r.getHeader("Authorization")));
        return body;
    }

    static JsonNode ledgerRow(String requestId) throws Exception {
        JsonNode[] row = new JsonNode[1];
        TestGateway.eventually(() -> {
            JsonNode data = JSON.valueToTree(List.of());
            try {
                data = JSON.readTree(gateway.get("/admin/requests?limit=1000", "Authorization", AUTH).body()).path("data");
            } catch (Exception e) {
                return false;
            }
            for (JsonNode r : data) {
                if (requestId.equals(r.path("id").asText())) {
                    row[0] = r;
                    return true;
                }
            }
            return false;
        }, "the ledger row of " + requestId);
        return row[0];
    }

    // ---- Responses: hosted tools ----

    @Test
    void aWebSearchResponseComesBackAsTheUpstreamWroteItAndIsChargedItsUsage() throws Exception {
        HttpResponseFor<Response> raw = upstreams.openai().responses().withRawResponse()
                .create(webSearch("gpt-search", "What did Caravan ship?").build());
        Response r = raw.parse();

        assertThat(r.id()).as("the upstream's id, not the gateway's").isEqualTo("resp_67ccd3a9da7481");
        assertThat(r.output()).hasSize(2);
        assertThat(r.output().get(0).isWebSearchCall()).isTrue();
        assertThat(r.output().get(0).asWebSearchCall().action().asSearch().query()).isEqualTo("caravan gateway news");
        assertThat(text(r)).isEqualTo(TEXT);
        assertThat(r.output().get(1).asMessage().content().get(0).asOutputText().annotations()).hasSize(1);
        assertThat(r.usage()).hasValueSatisfying(u -> {
            assertThat(u.inputTokens()).isEqualTo(328);
            assertThat(u.outputTokens()).isEqualTo(356);
        });

        JsonNode sent = sent();
        assertThat(sent.path("_path").asText()).isEqualTo("/v1/responses");
        assertThat(sent.path("_auth").asText()).isEqualTo("Bearer " + providerKey);
        assertThat(sent.path("model").asText()).isEqualTo("gpt-4.1-upstream");
        assertThat(sent.path("tools").get(0).path("type").asText()).isEqualTo("web_search");
        assertThat(sent.path("include").get(0).asText()).isEqualTo("web_search_call.action.sources");
        assertThat(sent.path("input").asText()).isEqualTo("What did Caravan ship?");
        assertThat(sent.has("messages")).as("not the canonical chat request").isFalse();

        // 328 input (128 of them cached) at $2/M, 356 output at $8/M
        assertThat(raw.headers().values("x-caravan-cost-usd")).containsExactly("0.003504");
        assertThat(raw.headers().values("x-caravan-cache")).as("a pass-through bypasses the cache").containsExactly("BYPASS");
        JsonNode row = ledgerRow(raw.headers().values("x-caravan-request-id").get(0));
        assertThat(row.path("usage").path("prompt_tokens").asLong()).isEqualTo(328);
        assertThat(row.path("usage").path("completion_tokens").asLong()).isEqualTo(356);
        assertThat(row.path("usage").path("cached_tokens").asLong()).isEqualTo(128);
        assertThat(row.path("deployment").asText()).isEqualTo("openai-gpt-4.1-upstream");
    }

    @Test
    void aStreamedWebSearchRelaysTheUpstreamsEventsInOrder() throws Exception {
        ResponseAccumulator accumulator = ResponseAccumulator.create();
        List<String> types = new ArrayList<>();
        try (StreamResponse<ResponseStreamEvent> stream = upstreams.openai().responses()
                .createStreaming(webSearch("gpt-search", "Stream the news").build())) {
            stream.stream().forEach(e -> {
                accumulator.accumulate(e);
                types.add(e.isWebSearchCallSearching() ? "searching" : e.isOutputTextDelta() ? "delta" : "other");
            });
        }
        Response r = accumulator.response();
        assertThat(r.output().get(0).isWebSearchCall()).isTrue();
        assertThat(text(r)).isEqualTo(TEXT);
        assertThat(r.usage()).hasValueSatisfying(u -> assertThat(u.totalTokens()).isEqualTo(684));
        assertThat(types).contains("searching");
        assertThat(sent().path("stream").asBoolean()).isTrue();

        HttpResponse<String> raw = post("/v1/responses", """
                {"model":"gpt-search","input":"Stream the news","stream":true,"tools":[{"type":"web_search"}]}""",
                TestGateway.MASTER_KEY);
        List<String> expected = responseEvents(TEXT).stream().map(e -> e[0]).toList();
        List<String> events = raw.body().lines().filter(l -> l.startsWith("event: ")).map(l -> l.substring(7)).toList();
        assertThat(events).as("every event, in the upstream's order").isEqualTo(expected);
        for (String[] e : responseEvents(TEXT).subList(0, expected.size() - 1)) {
            assertThat(raw.body()).as("relayed byte for byte").contains("data: " + e[1] + "\n\n");
        }
        String completed = raw.body().lines().filter(l -> l.startsWith("data: {\"type\":\"response.completed\""))
                .findFirst().orElseThrow();
        JsonNode usage = JSON.readTree(completed.substring(6)).path("response").path("usage");
        assertThat(usage.path("input_tokens").asLong()).isEqualTo(328);
        assertThat(usage.path("caravan_cost_usd").asText()).as("what it cost, as on every stream").isEqualTo("0.003504");
        JsonNode row = ledgerRow(raw.headers().firstValue("x-caravan-request-id").orElseThrow());
        assertThat(row.path("usage").path("completion_tokens").asLong()).isEqualTo(356);
        assertThat(row.path("stream").asBoolean()).isTrue();
    }

    @Test
    void aFollowUpGoesAsWrittenItsItemsAndPreviousResponseIdOpenAisToRead() throws Exception {
        String body = """
                {"model":"gpt-search","previous_response_id":"resp_67ccd3a9da7481","store":true,
                 "include":["web_search_call.action.sources"],"tools":[{"type":"web_search"}],"tool_choice":{"type":"web_search"},
                 "input":[%s,{"role":"user","content":[{"type":"input_text","text":"And yesterday?"},
                          {"type":"input_file","file_id":"file-abc123"}]}]}""".formatted(webSearchItem("completed"));
        HttpResponse<String> r = post("/v1/responses", body, TestGateway.MASTER_KEY);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode sent = sent();
        assertThat(sent.path("previous_response_id").asText()).as("not looked up among Caravan's").isEqualTo("resp_67ccd3a9da7481");
        JsonNode written = JSON.readTree(body);
        for (String field : List.of("input", "tools", "tool_choice", "include", "store")) {
            assertThat(sent.get(field)).as(field).isEqualTo(written.get(field));
        }
    }

    @Test
    void aHostedToolSkipsDeploymentsOfOtherProviders() throws Exception {
        Response r = upstreams.openai().responses().create(webSearch("gpt-mixed", "Any news?").build());
        assertThat(r.output().get(0).isWebSearchCall()).isTrue();
        assertThat(sent().path("model").asText()).isEqualTo("gpt-4.1-upstream");
    }

    @Test
    void aFailedOpenAiDeploymentFailsOverToTheNext() throws Exception {
        HttpResponse<String> r = post("/v1/responses", """
                {"model":"gpt-retry","input":"news","tools":[{"type":"web_search"}]}""", TestGateway.MASTER_KEY);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(JSON.readTree(r.body()).path("output").get(0).path("type").asText()).isEqualTo("web_search_call");
        assertThat(r.headers().firstValue("x-caravan-attempts")).hasValue("2");
        assertThat(sent().path("model").asText()).isEqualTo("broken");
        assertThat(sent().path("model").asText()).isEqualTo("gpt-4.1-upstream");
    }

    @Test
    void aHostedToolOnAModelWithoutOpenAiDeploymentsIsA400NamingIt() {
        HttpResponse<String> r = post("/v1/responses", """
                {"model":"mock-only","input":"x","tools":[{"type":"function","name":"f"},{"type":"web_search"}]}""",
                TestGateway.MASTER_KEY);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("\"code\":\"unsupported_tool\"", "\"param\":\"tools[1].type\"",
                "'web_search'", "provider type openai");
        HttpResponse<String> functions = post("/v1/responses", """
                {"model":"mock-only","input":"x","tools":[{"type":"function","name":"f","parameters":{"type":"object"}}]}""",
                TestGateway.MASTER_KEY);
        assertThat(functions.statusCode()).as("function tools: served by any provider").isEqualTo(200);
    }

    @Test
    void theInputGuardrailReadsThePassedThroughInput() throws Exception {
        HttpResponse<String> r = post("/v1/responses", """
                {"model":"gpt-search","tools":[{"type":"web_search"}],
                 "input":[{"role":"user","content":[{"type":"input_text","text":"Search the forbidden topic"}]}]}""",
                DENYING);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("\"code\":\"guardrail_blocked\"");
        assertThat(openai.takeRequest(300, TimeUnit.MILLISECONDS)).as("nothing reached the upstream").isNull();

        HttpResponse<String> masked = post("/v1/responses", """
                {"model":"gpt-search","input":"Mail jane.doe@example.com the news","tools":[{"type":"web_search"}]}""",
                MASKING_INPUT);
        assertThat(masked.statusCode()).as("a redaction cannot be carried by a body passed as written").isEqualTo(400);
        assertThat(masked.body()).contains("\"code\":\"pass_through_refused\"");
        assertThat(openai.takeRequest(300, TimeUnit.MILLISECONDS)).isNull();
    }

    @Test
    void theOutputGuardrailRedactsTheUpstreamsTextWholeAndStreamed() throws Exception {
        HttpResponse<String> whole = post("/v1/responses", """
                {"model":"gpt-search","input":"the contact?","tools":[{"type":"web_search"}]}""", REDACTING);
        JsonNode response = JSON.readTree(whole.body());
        JsonNode part = response.path("output").get(1).path("content").get(0);
        assertThat(part.path("text").asText()).isEqualTo("Write to [EMAIL] for details.");
        assertThat(part.path("annotations")).as("their offsets no longer hold").isEmpty();
        assertThat(response.path("output").get(0).path("type").asText()).isEqualTo("web_search_call");

        HttpResponse<String> streamed = post("/v1/responses", """
                {"model":"gpt-search","input":"the contact?","stream":true,"tools":[{"type":"web_search"}]}""", REDACTING);
        assertThat(streamed.body()).doesNotContain("jane.doe", "example.com");
        StringBuilder deltas = new StringBuilder();
        JsonNode completed = null;
        List<Long> sequence = new ArrayList<>();
        for (String line : streamed.body().lines().filter(l -> l.startsWith("data: ")).toList()) {
            JsonNode e = JSON.readTree(line.substring(6));
            sequence.add(e.path("sequence_number").asLong());
            if (e.path("type").asText().equals("response.output_text.delta")) {
                deltas.append(e.path("delta").asText());
            } else if (e.path("type").asText().equals("response.completed")) {
                completed = e;
            }
        }
        assertThat(deltas.toString()).isEqualTo("Write to [EMAIL] for details.");
        assertThat(completed.path("response").path("output").get(1).path("content").get(0).path("text").asText())
                .isEqualTo("Write to [EMAIL] for details.");
        assertThat(sequence).as("numbered in order, the gateway's own delta included").isSorted().doesNotHaveDuplicates();
    }

    // ---- /v1/completions ----

    @Test
    void aCompletionPassesThroughToAServerWithCompletions() throws Exception {
        Completion c = upstreams.openai().completions().create(CompletionCreateParams.builder().model("instruct")
                .prompt("Say this is a test").suffix("!").logprobs(1L).bestOf(2L).maxTokens(7L).build());
        assertThat(c.id()).isEqualTo("cmpl-up1");
        assertThat(c.choices().get(0).text()).isEqualTo(" This is indeed a test");
        assertThat(c.choices().get(0).logprobs()).hasValueSatisfying(l -> assertThat(l.tokens()).hasValue(List.of(" This", " is")));
        assertThat(c.usage()).hasValueSatisfying(u -> assertThat(u.totalTokens()).isEqualTo(12));

        JsonNode sent = sent();
        assertThat(sent.path("_path").asText()).isEqualTo("/v1/completions");
        assertThat(sent.path("model").asText()).isEqualTo("instruct-upstream");
        assertThat(sent.path("prompt").asText()).isEqualTo("Say this is a test");
        assertThat(sent.path("suffix").asText()).isEqualTo("!");
        assertThat(sent.path("best_of").asInt()).isEqualTo(2);
        assertThat(sent.path("logprobs").asInt()).isEqualTo(1);
        assertThat(sent.has("messages")).isFalse();

        Completion echoed = upstreams.openai().completions().create(CompletionCreateParams.builder().model("instruct")
                .prompt("Echo me").echo(true).build());
        assertThat(echoed.choices().get(0).text()).as("the upstream echoed; nothing is added")
                .isEqualTo("Echo me This is indeed a test");
        assertThat(sent().path("echo").asBoolean()).isTrue();
    }

    @Test
    void aStreamedCompletionIsTheServersOwnChunks() throws Exception {
        StringBuilder text = new StringBuilder();
        List<String> ids = new ArrayList<>();
        try (StreamResponse<Completion> stream = upstreams.openai().completions().createStreaming(
                CompletionCreateParams.builder().model("instruct").prompt("Say this is a test").build())) {
            stream.stream().forEach(c -> {
                ids.add(c.id());
                c.choices().forEach(choice -> text.append(choice.text()));
            });
        }
        assertThat(text.toString()).isEqualTo(" This is indeed a test");
        assertThat(ids).containsOnly("cmpl-up2");
        JsonNode sent = sent();
        assertThat(sent.path("_path").asText()).isEqualTo("/v1/completions");
        assertThat(sent.path("stream_options").path("include_usage").asBoolean()).as("usage is asked, to be charged").isTrue();

        HttpResponse<String> raw = post("/v1/completions",
                "{\"model\":\"instruct\",\"prompt\":\"hi\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
                TestGateway.MASTER_KEY);
        assertThat(raw.body()).contains("\"text\":\" indeed a test\"", "\"caravan_cost_usd\":0.000012")
                .endsWith("data: [DONE]\n\n").doesNotContain("chat.completion");
        JsonNode row = ledgerRow(raw.headers().firstValue("x-caravan-request-id").orElseThrow());
        assertThat(row.path("usage").path("prompt_tokens").asLong()).isEqualTo(5);
    }

    @Test
    void withoutTheFlagACompletionIsTranslatedToChatAsBefore() throws Exception {
        Completion c = upstreams.openai().completions().create(CompletionCreateParams.builder().model("chatty")
                .prompt("Translate me").build());
        assertThat(c.choices().get(0).text()).isEqualTo("a chat answer");
        JsonNode sent = sent();
        assertThat(sent.path("_path").asText()).isEqualTo("/v1/chat/completions");
        assertThat(sent.path("messages").get(0).path("content").asText()).isEqualTo("Translate me");

        HttpResponse<String> suffix = post("/v1/completions", "{\"model\":\"chatty\",\"prompt\":\"x\",\"suffix\":\"!\"}",
                TestGateway.MASTER_KEY);
        assertThat(suffix.statusCode()).isEqualTo(400);
        assertThat(suffix.body()).contains("\"param\":\"suffix\"", "completions: true");
    }
}
