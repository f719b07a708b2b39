package dev.caravan;

import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** OpenAI's legacy /v1/completions through the official client: served by any provider as a chat turn. */
class TextCompletionsTest {

    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start(TestGateway.MOCK_CONFIG);
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    static CompletionCreateParams.Builder params() {
        return CompletionCreateParams.builder().model("mock-gpt").prompt("Say this is a test");
    }

    @Test
    void aPromptGetsATextCompletionWithUsage() {
        Completion completion = gateway.openai(TestGateway.DEMO_KEY).completions().create(params().maxTokens(50).build());
        assertThat(completion._object_().toString()).contains("text_completion");
        assertThat(completion.id()).startsWith("cmpl-");
        assertThat(completion.choices()).hasSize(1);
        assertThat(completion.choices().get(0).text()).isNotBlank();
        assertThat(completion.choices().get(0).finishReason().toString()).isIn("stop", "length");
        assertThat(completion.usage()).hasValueSatisfying(u -> assertThat(u.totalTokens()).isPositive());
    }

    @Test
    void streamedTextArrivesChunkByChunkAndEndsWithDone() {
        StringBuilder text = new StringBuilder();
        try (StreamResponse<Completion> stream = gateway.openai(TestGateway.DEMO_KEY).completions()
                .createStreaming(params().maxTokens(50).build())) {
            stream.stream().forEach(c -> c.choices().forEach(choice -> text.append(choice.text())));
        }
        assertThat(text.toString()).isNotBlank();
        HttpResponse<String> raw = gateway.post("/v1/completions",
                "{\"model\":\"mock-gpt\",\"prompt\":\"hi\",\"stream\":true}",
                "Authorization", "Bearer " + TestGateway.DEMO_KEY, "Content-Type", "application/json");
        assertThat(raw.body()).contains("\"object\":\"text_completion\"").endsWith("data: [DONE]\n\n")
                .doesNotContain("chat.completion");
    }

    @Test
    void echoPutsThePromptBeforeTheAnswer() {
        Completion echoed = gateway.openai(TestGateway.DEMO_KEY).completions().create(params().echo(true).build());
        assertThat(echoed.choices().get(0).text()).startsWith("Say this is a test");
    }

    @Test
    void whatChatModelsCannotDoIsA400NamingTheField() {
        assertThatThrownBy(() -> gateway.openai(TestGateway.DEMO_KEY).completions()
                .create(params().suffix("!").build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).hasValue("suffix"));
        HttpResponse<String> two = gateway.post("/v1/completions", "{\"model\":\"mock-gpt\",\"prompt\":[\"a\",\"b\"]}",
                "Authorization", "Bearer " + TestGateway.DEMO_KEY, "Content-Type", "application/json");
        assertThat(two.statusCode()).isEqualTo(400);
        assertThat(two.body()).contains("\"param\":\"prompt\"");
        HttpResponse<String> none = gateway.post("/v1/completions", "{\"model\":\"mock-gpt\"}",
                "Authorization", "Bearer " + TestGateway.DEMO_KEY, "Content-Type", "application/json");
        assertThat(none.body()).contains("\"code\":\"missing_required_parameter\"", "\"param\":\"prompt\"");
    }

    @Test
    void aCompletionIsChargedAndLoggedLikeAChat() {
        gateway.openai(TestGateway.DEMO_KEY).completions().create(params().build());
        String metrics = gateway.metrics().lines().filter(l -> l.startsWith("caravan_tokens_total"))
                .collect(Collectors.joining("\n"));
        assertThat(metrics).contains("mock-gpt");
    }
}
