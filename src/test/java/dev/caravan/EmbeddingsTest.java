package dev.caravan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.http.HttpResponse;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** POST /v1/embeddings through the official SDK: mock and OpenAI-compatible deployments, floats and base64, batches. */
class EmbeddingsTest {

    @RegisterExtension
    static final UpstreamFixture upstreams = new UpstreamFixture();
    static MockWebServer upstream;
    static TestGateway gateway;
    static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        upstream = upstreams.server();
        gateway = upstreams.gateway("""
                providers:
                  mock: { type: mock }
                  up: { type: openai, baseUrl: "%s" }
                routing: { retries: 0 }
                models:
                  - name: mock-embed
                    deployments: [ { provider: mock, model: mock-embed } ]
                  - name: text-embedding-3-small
                    deployments: [ { provider: up, model: text-embedding-3-small } ]
                """.formatted(upstream.url("/v1")));
        client = upstreams.openai();
    }

    static double norm(List<Float> v) {
        double s = 0;
        for (float f : v) {
            s += f * f;
        }
        return Math.sqrt(s);
    }

    @Test
    void batchedInputGetsOneDeterministicUnitVectorEach() {
        CreateEmbeddingResponse r = client.embeddings().create(EmbeddingCreateParams.builder().model("mock-embed")
                .inputOfArrayOfStrings(List.of("alpha", "beta", "alpha")).dimensions(64).build());
        assertThat(r.data()).hasSize(3);
        assertThat(r.data()).extracting(e -> e.index()).containsExactly(0L, 1L, 2L);
        List<Float> alpha = r.data().get(0).embedding();
        assertThat(alpha).hasSize(64);
        assertThat(norm(alpha)).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-4));
        assertThat(r.data().get(2).embedding()).isEqualTo(alpha);
        assertThat(r.data().get(1).embedding()).isNotEqualTo(alpha);
        assertThat(r.usage().promptTokens()).isPositive();
    }

    @Test
    void floatAndBase64EncodingsCarryTheSameVector() throws Exception {
        List<Float> floats = client.embeddings().create(EmbeddingCreateParams.builder().model("mock-embed").input("same text")
                .encodingFormat(EmbeddingCreateParams.EncodingFormat.FLOAT).build()).data().get(0).embedding();
        HttpResponse<String> raw = gateway.post("/v1/embeddings",
                "{\"model\":\"mock-embed\",\"input\":\"same text\",\"encoding_format\":\"base64\"}",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY);
        assertThat(raw.statusCode()).isEqualTo(200);
        String b64 = new ObjectMapper().readTree(raw.body()).at("/data/0/embedding").asText();
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(Base64.getDecoder().decode(b64)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertThat(buf.remaining()).isEqualTo(4 * floats.size());
        for (Float f : floats) {
            assertThat(buf.getFloat()).isEqualTo(f);
        }
    }

    @Test
    void openAiCompatibleUpstreamGetsTheRequestAsSent() throws Exception {
        upstream.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.6,0.8]}],
                 "model":"text-embedding-3-small","usage":{"prompt_tokens":2,"total_tokens":2}}"""));
        CreateEmbeddingResponse r = client.embeddings().create(EmbeddingCreateParams.builder()
                .model("text-embedding-3-small").input("hello").dimensions(2)
                .encodingFormat(EmbeddingCreateParams.EncodingFormat.FLOAT).build());
        assertThat(r.data().get(0).embedding()).containsExactly(0.6f, 0.8f);
        RecordedRequest sent = upstream.takeRequest(1, TimeUnit.SECONDS);
        assertThat(sent.getPath()).isEqualTo("/v1/embeddings");
        JsonNode body = new ObjectMapper().readTree(sent.getBody().readUtf8());
        assertThat(body.get("input").asText()).isEqualTo("hello");
        assertThat(body.get("dimensions").asInt()).isEqualTo(2);
        assertThat(gateway.metrics()).contains("model=\"text-embedding-3-small\"");
    }

    @Test
    void missingInputGets400AndWrongMethod405() {
        HttpResponse<String> r = gateway.post("/v1/embeddings", "{\"model\":\"mock-embed\"}",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("\"param\":\"input\"");
        assertThat(gateway.get("/v1/embeddings", "Authorization", "Bearer " + TestGateway.MASTER_KEY).statusCode()).isEqualTo(405);
    }
}
