package dev.caravan;

import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Azure OpenAI: deployment in the path, api-version in the query, api-key header; Azure's extra fields pass. */
class AzureOpenAiTest {

    static final String AZURE_KEY = "azure-key-0123456789abcdef0123456789";
    @RegisterExtension
    static final UpstreamFixture upstreams = new UpstreamFixture();
    static MockWebServer azure;
    static Path keyFile;
    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        azure = upstreams.server();
        keyFile = upstreams.keyFile("azure", AZURE_KEY);
        String baseUrl = UpstreamFixture.root(azure);
        gateway = upstreams.gateway("""
                providers:
                  azure-eu: { type: azure, baseUrl: "%s", apiKey: "${file:%s}", apiVersion: 2024-10-21 }
                routing: { retries: 0 }
                models:
                  - name: gpt-4o
                    deployments: [ { provider: azure-eu, model: gpt-4o-prod } ]
                  - name: gpt-4o-limited
                    deployments: [ { id: azure-limited, provider: azure-eu, model: gpt-4o-prod } ]
                  - name: embed
                    deployments: [ { provider: azure-eu, model: embed-prod } ]
                """.formatted(baseUrl, keyFile));
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

    @Test
    void azureEmbeddingsGoToTheEmbeddingDeployment() throws Exception {
        azure.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2]},
                  {"object":"embedding","index":1,"embedding":[0.3,0.4]}],
                 "model":"text-embedding-3-small","usage":{"prompt_tokens":6,"total_tokens":6}}"""));
        var r = gateway.openai(TestGateway.MASTER_KEY).embeddings().create(com.openai.models.embeddings.EmbeddingCreateParams
                .builder().model("embed").inputOfArrayOfStrings(java.util.List.of("one", "two")).build());
        assertThat(r.data()).hasSize(2);
        assertThat(r.data().get(1).embedding()).containsExactly(0.3f, 0.4f);
        assertThat(r.usage().promptTokens()).isEqualTo(6);
        RecordedRequest sent = azure.takeRequest(1, TimeUnit.SECONDS);
        assertThat(sent.getPath()).isEqualTo("/openai/deployments/embed-prod/embeddings?api-version=2024-10-21");
        assertThat(sent.getHeader("api-key")).isEqualTo(AZURE_KEY);
    }

    @Test
    void azureStreamedToolCallArrivesWholeThroughTheSdk() throws Exception {
        String head = "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"content_filter_results\":{},\"index\":0,\"delta\":";
        azure.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(
                "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{}}]}\n\n"
                + "data: " + head + "{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_z\",\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n"
                + "data: " + head + "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"q\\\":\"}}]},\"finish_reason\":null}]}\n\n"
                + "data: " + head + "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"caravan\\\"}\"}}]},\"finish_reason\":null}]}\n\n"
                + "data: " + head + "{},\"finish_reason\":\"tool_calls\"}]}\n\n"
                + "data: [DONE]\n\n"));
        var accumulator = com.openai.helpers.ChatCompletionAccumulator.create();
        try (StreamResponse<ChatCompletionChunk> s = gateway.openai(TestGateway.MASTER_KEY).chat().completions()
                .createStreaming(ChatCompletionCreateParams.builder().model("gpt-4o").addUserMessage("look up caravan").build())) {
            s.stream().forEach(accumulator::accumulate);
        }
        var call = accumulator.chatCompletion().choices().get(0).message().toolCalls().orElseThrow().get(0).asFunction();
        assertThat(call.function().name()).isEqualTo("lookup");
        assertThat(call.function().arguments()).isEqualTo("{\"q\":\"caravan\"}");
        azure.takeRequest(1, TimeUnit.SECONDS);
    }

    @Test
    void azureContentFilterAndRateLimitErrorsKeepTheirMeaning() throws Exception {
        azure.enqueue(new MockResponse().setResponseCode(400).setHeader("Content-Type", "application/json").setBody("""
                {"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
                  "type":null,"param":"prompt","code":"content_filter","status":400,
                  "innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"}}}}}"""));
        var filtered = gateway.post("/v1/chat/completions", "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY);
        assertThat(filtered.statusCode()).isEqualTo(400);
        assertThat(filtered.body()).contains("\"code\":\"content_filter\"", "content management policy");
        azure.takeRequest(1, TimeUnit.SECONDS);

        azure.enqueue(new MockResponse().setResponseCode(429).setHeader("Retry-After", "4").setHeader("Content-Type", "application/json")
                .setBody("{\"error\":{\"code\":\"429\",\"message\":\"Requests to the ChatCompletions_Create Operation have exceeded call rate limit.\"}}"));
        var limited = gateway.post("/v1/chat/completions", "{\"model\":\"gpt-4o-limited\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY);
        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(limited.headers().firstValue("retry-after")).hasValue("4");
        assertThat(limited.body()).contains("\"code\":\"rate_limit_exceeded\"", "exceeded call rate limit");
        azure.takeRequest(1, TimeUnit.SECONDS);
    }
}
