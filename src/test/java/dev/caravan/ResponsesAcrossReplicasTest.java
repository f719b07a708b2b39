package dev.caravan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.client.OpenAIClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.NotFoundException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStreamEvent;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Stored responses in the gateway's database, through HTTP with the official client: two replicas sharing the real
 * PostgreSQL (a schema of this test's own) continue, read and delete each other's responses, a restart keeps them,
 * and another key is told they do not exist. The upstream answers with every user turn it was sent, so an answer
 * shows whether the stored conversation reached the model. PostgreSQL being down fails the test.
 */
class ResponsesAcrossReplicasTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String ALICE = "sk-responses-alice-0123456789";
    static final String BOB = "sk-responses-bob-0123456789";

    static MockWebServer upstream;
    static PostgresSchema schema;
    static String config;
    static Map<String, String> shared;
    static TestGateway first;
    static TestGateway second;

    /** A chat upstream whose answer repeats every user turn it was sent: "Heard: a | b". */
    static MockResponse answer(RecordedRequest request) {
        try {
            JsonNode body = JSON.readTree(request.getBody().readUtf8());
            List<String> heard = new ArrayList<>();
            body.path("messages").forEach(m -> {
                if ("user".equals(m.path("role").asText())) {
                    heard.add(m.path("content").isTextual() ? m.path("content").asText()
                            : m.path("content").path(0).path("text").asText());
                }
            });
            String text = "Heard: " + String.join(" | ", heard);
            if (body.path("stream").asBoolean(false)) {
                String head = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
                        + "\"model\":\"gpt-4o-mini\",\"choices\":[";
                String sse = "data: " + head + "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":"
                        + JSON.writeValueAsString(text) + "}}]}\n\n"
                        + "data: " + head + "{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
                        + "data: " + head + "],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}\n\n"
                        + "data: [DONE]\n\n";
                return new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(sse);
            }
            ObjectNode out = JSON.createObjectNode().put("id", "chatcmpl-1").put("object", "chat.completion")
                    .put("created", 1700000000).put("model", "gpt-4o-mini");
            out.putArray("choices").addObject().put("index", 0).put("finish_reason", "stop")
                    .putObject("message").put("role", "assistant").put("content", text);
            out.putObject("usage").put("prompt_tokens", 5).put("completion_tokens", 3).put("total_tokens", 8);
            return new MockResponse().setHeader("Content-Type", "application/json").setBody(out.toString());
        } catch (Exception e) {
            return new MockResponse().setResponseCode(500).setBody(e.toString());
        }
    }

    @BeforeAll
    static void start() throws Exception {
        upstream = new MockWebServer();
        upstream.setDispatcher(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
                return answer(request);
            }
        });
        upstream.start();
        schema = PostgresSchema.create("responses_replicas");
        config = """
                providers:
                  up: { type: openai, baseUrl: "%s" }
                models:
                  - name: gpt-4o-mini
                    deployments: [ { provider: up, model: gpt-4o-mini } ]
                keys:
                  - { id: alice, sha256: "%s" }
                  - { id: bob, sha256: "%s" }
                """.formatted(upstream.url("/v1"), sha256(ALICE), sha256(BOB));
        shared = Map.of("caravan.db.url", schema.url());
        first = TestGateway.start(config, shared);
        second = TestGateway.start(config, shared);
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            first.close();
            second.close();
        } finally {
            schema.close();
            upstream.shutdown();
        }
    }

    static String sha256(String key) {
        return HexFormat.of().formatHex(dev.caravan.auth.KeyAuthenticator.sha256(key));
    }

    static Response create(TestGateway on, String key, String input, String previous) {
        ResponseCreateParams.Builder params = ResponseCreateParams.builder().model("gpt-4o-mini").input(input);
        if (previous != null) {
            params.previousResponseId(previous);
        }
        return on.openai(key).responses().create(params.build());
    }

    /** The response as {@code on} reads it, once it does (within 2 s: the other replica's row commits in ms). */
    static Response visibleOn(TestGateway on, String key, String id) throws InterruptedException {
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (true) {
            try {
                return on.openai(key).responses().retrieve(id);
            } catch (NotFoundException e) {
                assertThat(System.nanoTime()).as("%s visible on the other replica within 2 s", id).isLessThan(deadline);
                Thread.sleep(20);
            }
        }
    }

    static HttpResponse<String> followUp(TestGateway on, String key, String previous) {
        return on.post("/v1/responses", "{\"model\":\"gpt-4o-mini\",\"input\":\"And then?\",\"previous_response_id\":\""
                + previous + "\"}", "Authorization", "Bearer " + key, "Content-Type", "application/json");
    }

    @Test
    void aResponseStoredOnOneReplicaIsContinuedAndReadOnTheOther() throws Exception {
        Response answered = create(first, ALICE, "My name is Ada.", null);
        assertThat(ResponsesApiTest.text(answered)).isEqualTo("Heard: My name is Ada.");

        Response read = visibleOn(second, ALICE, answered.id());
        assertThat(ResponsesApiTest.text(read)).isEqualTo("Heard: My name is Ada.");
        Response next = create(second, ALICE, "What is my name?", answered.id());
        assertThat(ResponsesApiTest.text(next)).as("the first turn reached the model through the other replica")
                .isEqualTo("Heard: My name is Ada. | What is my name?");
        assertThat(next.previousResponseId()).hasValue(answered.id());

        // back on the first replica: the second's row is seen there once it commits (ms), as a client behind a load
        // balancer would find it
        visibleOn(first, ALICE, next.id());
        Response third = create(first, ALICE, "Spell it.", next.id());
        assertThat(ResponsesApiTest.text(third)).isEqualTo("Heard: My name is Ada. | What is my name? | Spell it.");
    }

    @Test
    void aStreamedResponseIsStoredForTheOtherReplicaToo() throws Exception {
        String id;
        try (StreamResponse<ResponseStreamEvent> stream = first.openai(ALICE).responses().createStreaming(
                ResponseCreateParams.builder().model("gpt-4o-mini").input("Streamed hello").build())) {
            id = stream.stream().filter(ResponseStreamEvent::isCompleted).findFirst().orElseThrow()
                    .asCompleted().response().id();
        }
        assertThat(ResponsesApiTest.text(visibleOn(second, ALICE, id))).isEqualTo("Heard: Streamed hello");
    }

    @Test
    void aStoredResponseSurvivesARestartOfTheGateway() throws Exception {
        Response answered = create(first, ALICE, "Remember me.", null);
        first.close(); // everything still waiting to be written is written first
        first = TestGateway.start(config, shared);

        assertThat(ResponsesApiTest.text(first.openai(ALICE).responses().retrieve(answered.id())))
                .isEqualTo("Heard: Remember me.");
        assertThat(ResponsesApiTest.text(create(first, ALICE, "Who?", answered.id())))
                .isEqualTo("Heard: Remember me. | Who?");
    }

    @Test
    void aDeleteOnOneReplicaIs404OnTheOther() throws Exception {
        Response answered = create(first, ALICE, "Forget me.", null);
        visibleOn(second, ALICE, answered.id());

        second.openai(ALICE).responses().delete(answered.id());
        assertThatThrownBy(() -> first.openai(ALICE).responses().retrieve(answered.id()))
                .isInstanceOf(NotFoundException.class);
        assertThatThrownBy(() -> second.openai(ALICE).responses().retrieve(answered.id()))
                .isInstanceOf(NotFoundException.class);
        HttpResponse<String> followUp = followUp(first, ALICE, answered.id());
        assertThat(followUp.statusCode()).isEqualTo(404);
        assertThat(followUp.body()).contains("\"code\":\"previous_response_not_found\"");
        assertThatThrownBy(() -> first.openai(ALICE).responses().delete(answered.id()))
                .as("already gone").isInstanceOf(NotFoundException.class);
    }

    @Test
    void anotherKeyIsToldTheResponseDoesNotExistOnEitherReplica() throws Exception {
        Response answered = create(first, ALICE, "Mine only.", null);
        visibleOn(second, ALICE, answered.id());

        for (TestGateway on : List.of(first, second)) {
            OpenAIClient bob = on.openai(BOB);
            assertThatThrownBy(() -> bob.responses().retrieve(answered.id())).isInstanceOf(NotFoundException.class);
            assertThatThrownBy(() -> bob.responses().delete(answered.id())).isInstanceOf(NotFoundException.class);
            HttpResponse<String> followUp = followUp(on, BOB, answered.id());
            assertThat(followUp.statusCode()).isEqualTo(404);
            assertThat(followUp.body()).contains("\"param\":\"previous_response_id\"").doesNotContain("Mine only");
        }
        assertThat(ResponsesApiTest.text(second.openai(ALICE).responses().retrieve(answered.id())))
                .as("the stranger's delete changed nothing").isEqualTo("Heard: Mine only.");
    }

    @Test
    void withoutADatabaseResponsesAreKeptInThisProcess() throws Exception {
        try (TestGateway alone = TestGateway.start(config, Map.of("caravan.ledger.enabled", "false"))) {
            Response answered = create(alone, ALICE, "In memory.", null);
            assertThat(ResponsesApiTest.text(alone.openai(ALICE).responses().retrieve(answered.id())))
                    .isEqualTo("Heard: In memory.");
            assertThat(ResponsesApiTest.text(create(alone, ALICE, "Still?", answered.id())))
                    .isEqualTo("Heard: In memory. | Still?");
            assertThatThrownBy(() -> second.openai(ALICE).responses().retrieve(answered.id()))
                    .as("nothing reached the shared database").isInstanceOf(NotFoundException.class);
        }
    }
}
