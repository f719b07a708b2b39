package dev.caravan.policy;

import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.caravan.TestGateway;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The example policy, configured by its block in gateway.yaml and registered in one line. */
class BannedWordsPolicyTest {

    static MockWebServer upstream;
    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        PolicyRegistry.shared().register("banned-words", BannedWordsPolicy::new);
        upstream = new MockWebServer();
        upstream.start();
        gateway = TestGateway.start("""
                providers:
                  upstream: { type: openai, baseUrl: "%s" }
                policies:
                  - { name: banned-words, words: [ marzipan ] }
                models:
                  - name: gpt-test
                    deployments: [ { provider: upstream, model: gpt-upstream } ]
                """.formatted(upstream.url("/v1")));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        upstream.shutdown();
    }

    static ChatCompletionCreateParams ask(String text) {
        return ChatCompletionCreateParams.builder().model("gpt-test").addUserMessage(text).build();
    }

    @Test
    void aRequestMentioningABannedWordIsRefusedWithoutACall() {
        int calls = upstream.getRequestCount();
        assertThatThrownBy(() -> gateway.openai(TestGateway.MASTER_KEY).chat().completions().create(ask("I like Marzipan")))
                .isInstanceOf(BadRequestException.class).hasMessageContaining("does not pass on");
        assertThat(upstream.getRequestCount()).isEqualTo(calls);
    }

    @Test
    void aBannedWordInAStreamedAnswerIsMasked() {
        String chunk = "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
                + "\"delta\":{\"content\":\"%s\"},\"finish_reason\":null}]}";
        upstream.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(
                "data: " + chunk.formatted("have some ") + "\n\ndata: " + chunk.formatted("marzipan!") + "\n\ndata: [DONE]\n\n"));
        StringBuilder text = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> stream = gateway.openai(TestGateway.MASTER_KEY).chat().completions()
                .createStreaming(ask("a sweet, please"))) {
            stream.stream().forEach(c -> c.choices().forEach(ch -> ch.delta().content().ifPresent(text::append)));
        }
        assertThat(text.toString()).isEqualTo("have some ********!");
    }
}
