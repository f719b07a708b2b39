package dev.caravan;

import com.openai.client.OpenAIClient;
import com.openai.core.http.HttpResponseFor;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.PermissionDeniedException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.models.Model;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What an app sees through the official OpenAI Java SDK, against the built-in mock provider. */
class ChatCompletionsEndToEndTest {

    static TestGateway gateway;
    static OpenAIClient demo;

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start(TestGateway.MOCK_CONFIG);
        demo = gateway.openai(TestGateway.DEMO_KEY);
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    static ChatCompletionCreateParams.Builder chat(String model, String prompt) {
        return ChatCompletionCreateParams.builder().model(model).addUserMessage(prompt);
    }

    @Test
    void chatCompletionAnswersWithContentUsageAndCaravanHeaders() {
        HttpResponseFor<ChatCompletion> raw = demo.chat().completions().withRawResponse()
                .create(chat("mock-gpt", "Say hello to Caravan").build());
        ChatCompletion completion = raw.parse();

        assertThat(raw.statusCode()).isEqualTo(200);
        assertThat(raw.headers().values("x-caravan-request-id")).singleElement().asString().startsWith("req_");
        assertThat(raw.headers().values("x-caravan-deployment")).containsExactly("mock-mock-gpt");
        assertThat(completion.model()).isEqualTo("mock-gpt");
        assertThat(completion.choices()).hasSize(1);
        assertThat(completion.choices().get(0).message().content()).hasValueSatisfying(
                text -> assertThat(text).startsWith("Mock reply to \"Say hello to Caravan\":"));
        assertThat(completion.choices().get(0).finishReason()).isEqualTo(ChatCompletion.Choice.FinishReason.STOP);
        assertThat(completion.usage()).hasValueSatisfying(u -> {
            assertThat(u.promptTokens()).isPositive();
            assertThat(u.completionTokens()).isPositive();
            assertThat(u.totalTokens()).isEqualTo(u.promptTokens() + u.completionTokens());
        });
    }

    @Test
    void theSamePromptGetsTheSameReply() {
        String a = demo.chat().completions().create(chat("mock-gpt", "repeatable?").build()).choices().get(0).message().content().orElseThrow();
        String b = demo.chat().completions().create(chat("mock-gpt", "repeatable?").build()).choices().get(0).message().content().orElseThrow();
        assertThat(a).isEqualTo(b);
    }

    @Test
    void streamingDeliversChunksThatAssembleTheWholeReply() {
        String whole = demo.chat().completions().create(chat("mock-gpt", "stream me").build())
                .choices().get(0).message().content().orElseThrow();
        StringBuilder assembled = new StringBuilder();
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> stream = demo.chat().completions()
                .createStreaming(chat("mock-gpt", "stream me").build())) {
            stream.stream().forEach(c -> {
                chunks.add(c);
                c.choices().forEach(choice -> choice.delta().content().ifPresent(assembled::append));
            });
        }
        assertThat(assembled.toString()).isEqualTo(whole);
        assertThat(chunks).allSatisfy(c -> assertThat(c.usage()).isEmpty()); // not asked for: not sent
        assertThat(chunks.get(chunks.size() - 1).choices().get(0).finishReason())
                .hasValue(ChatCompletionChunk.Choice.FinishReason.STOP);
    }

    @Test
    void streamingReportsUsageWhenTheClientAsksForIt() {
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> stream = demo.chat().completions().createStreaming(
                chat("mock-gpt", "count my tokens")
                        .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            stream.stream().forEach(chunks::add);
        }
        ChatCompletionChunk last = chunks.get(chunks.size() - 1);
        assertThat(last.choices()).isEmpty();
        assertThat(last.usage()).hasValueSatisfying(u -> assertThat(u.totalTokens()).isPositive());
    }

    @Test
    void streamedChunksArriveAsTheyAreProducedNotAfterTheEnd() {
        // mock-slow paces chunks 200 ms apart: 10 words -> 13 chunks -> about 2.6 s from first to last
        List<Long> arrivals = new ArrayList<>();
        long start = System.nanoTime();
        try (StreamResponse<ChatCompletionChunk> stream = gateway.openai(TestGateway.MASTER_KEY).chat().completions()
                .createStreaming(chat("mock-slow", "pace yourself").maxCompletionTokens(10).build())) {
            stream.stream().forEach(c -> arrivals.add((System.nanoTime() - start) / 1_000_000));
        }
        assertThat(arrivals).hasSizeGreaterThanOrEqualTo(12);
        long first = arrivals.get(0);
        long last = arrivals.get(arrivals.size() - 1);
        assertThat(first).as("first chunk after %s ms", first).isLessThan(1_000);
        assertThat(last - first).as("first-to-last spread").isGreaterThan(1_800);
        // and every chunk came on its own, not in a burst at the end
        assertThat(arrivals.get(arrivals.size() / 2) - first).isGreaterThan(800);
    }

    @Test
    void modelsListShowsOnlyWhatTheKeyMayUse() {
        assertThat(demo.models().list().data()).extracting(Model::id).containsExactly("mock-gpt");
        assertThat(gateway.openai(TestGateway.MASTER_KEY).models().list().data()).extracting(Model::id)
                .containsExactly("mock-gpt", "mock-slow");
        Model model = demo.models().retrieve("mock-gpt");
        assertThat(model.id()).isEqualTo("mock-gpt");
        assertThat(model.ownedBy()).isEqualTo("caravan");
        assertThatThrownBy(() -> demo.models().retrieve("mock-slow")).isInstanceOf(NotFoundException.class);
    }

    @Test
    void missingOrWrongKeyGets401InOpenAiShape() {
        assertThatThrownBy(() -> gateway.openai("sk-wrong").chat().completions().create(chat("mock-gpt", "hi").build()))
                .isInstanceOfSatisfying(UnauthorizedException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(401);
                    assertThat(e.code()).hasValue("invalid_api_key");
                    assertThat(e.type()).hasValue("invalid_request_error");
                });
        var response = gateway.post("/v1/chat/completions", "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(response.statusCode()).isEqualTo(401);
        assertThat(response.body()).contains("\"code\":\"invalid_api_key\"");
    }

    @Test
    void keyLimitedToSomeModelsGets403ForOthers() {
        assertThatThrownBy(() -> demo.chat().completions().create(chat("mock-slow", "hi").build()))
                .isInstanceOfSatisfying(PermissionDeniedException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(403);
                    assertThat(e.code()).hasValue("model_not_allowed");
                });
    }

    @Test
    void unknownModelGets404ModelNotFound() {
        assertThatThrownBy(() -> demo.chat().completions().create(chat("gpt-9-imaginary", "hi").build()))
                .isInstanceOfSatisfying(NotFoundException.class, e -> {
                    assertThat(e.statusCode()).isEqualTo(404);
                    assertThat(e.code()).hasValue("model_not_found");
                    assertThat(e.param()).hasValue("model");
                });
    }

    @Test
    void emptyMessagesGets400() {
        assertThatThrownBy(() -> demo.chat().completions().create(
                ChatCompletionCreateParams.builder().model("mock-gpt").messages(List.of()).build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).hasValue("messages"));
    }

    @Test
    void masterKeyMayCallEveryModel() {
        ChatCompletion c = gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(chat("mock-slow", "hi").build());
        assertThat(c.model()).isEqualTo("mock-slow");
    }
}
