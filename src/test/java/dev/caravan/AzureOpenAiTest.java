package dev.caravan;

import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Azure OpenAI: deployment in the path, api-version in the query, api-key header; Azure's extra fields pass. */
class AzureOpenAiTest {

    static final String AZURE_KEY = "azure-key-0123456789abcdef0123456789";
    static MockWebServer azure;
    static Path keyFile;
    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        azure = new MockWebServer();
        azure.start();
        keyFile = Files.createTempFile("azure", ".key");
        Files.writeString(keyFile, AZURE_KEY);
        String baseUrl = azure.url("/").toString().replaceAll("/$", "");
        gateway = TestGateway.start("""
                providers:
                  azure-eu: { type: azure, baseUrl: "%s", apiKey: "${file:%s}", apiVersion: 2024-10-21 }
                routing: { retries: 0 }
                models:
                  - name: gpt-4o
                    deployments: [ { provider: azure-eu, model: gpt-4o-prod } ]
                """.formatted(baseUrl, keyFile));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        azure.shutdown();
        Files.deleteIfExists(keyFile);
    }

    @Test
    void chatGoesToTheAzureDeploymentWithItsApiKey() throws Exception {
        azure.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"chatcmpl-az","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06",
                 "prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}],
                 "choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hello from azure"},
                   "content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}],
                 "usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}"""));
        ChatCompletion c = gateway.openai(TestGateway.MASTER_KEY).chat().completions()
                .create(ChatCompletionCreateParams.builder().model("gpt-4o").addUserMessage("hi").build());
        assertThat(c.choices().get(0).message().content()).hasValue("hello from azure");

        RecordedRequest sent = azure.takeRequest(1, TimeUnit.SECONDS);
        assertThat(sent.getPath()).isEqualTo("/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21");
        assertThat(sent.getHeader("api-key")).isEqualTo(AZURE_KEY);
        assertThat(sent.getHeader("Authorization")).isNull();
    }

    @Test
    void azureStreamsRelayIncludingItsFilterOnlyFirstChunk() throws Exception {
        azure.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream").setBody("""
                data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}

                data: {"choices":[{"content_filter_results":{},"delta":{"content":"az","role":"assistant"},"finish_reason":null,"index":0}],"created":1,"id":"c","model":"gpt-4o","object":"chat.completion.chunk"}

                data: {"choices":[{"content_filter_results":{},"delta":{"content":"ure"},"finish_reason":null,"index":0}],"created":1,"id":"c","model":"gpt-4o","object":"chat.completion.chunk"}

                data: {"choices":[{"content_filter_results":{},"delta":{},"finish_reason":"stop","index":0}],"created":1,"id":"c","model":"gpt-4o","object":"chat.completion.chunk"}

                data: [DONE]

                """));
        StringBuilder text = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = gateway.openai(TestGateway.MASTER_KEY).chat().completions()
                .createStreaming(ChatCompletionCreateParams.builder().model("gpt-4o").addUserMessage("hi").build())) {
            s.stream().forEach(ch -> ch.choices().forEach(choice -> choice.delta().content().ifPresent(text::append)));
        }
        assertThat(text.toString()).isEqualTo("azure");
        assertThat(azure.takeRequest(1, TimeUnit.SECONDS).getPath()).startsWith("/openai/deployments/gpt-4o-prod/chat/completions");
    }
}
