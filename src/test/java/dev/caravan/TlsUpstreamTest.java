package dev.caravan;

import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Real providers are HTTPS: the certificate is checked against trusted CAs and against the host name. */
class TlsUpstreamTest {

    static MockWebServer upstream;
    static Path caFile;
    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        HeldCertificate ca = new HeldCertificate.Builder().certificateAuthority(0).commonName("Test CA").build();
        HeldCertificate server = new HeldCertificate.Builder().addSubjectAlternativeName("localhost").signedBy(ca).build();
        upstream = new MockWebServer();
        upstream.useHttps(new HandshakeCertificates.Builder().heldCertificate(server, ca.certificate()).build()
                .sslSocketFactory(), false);
        upstream.start();
        caFile = Files.createTempFile("ca", ".pem");
        Files.writeString(caFile, ca.certificatePem());
        int port = upstream.getPort();
        gateway = TestGateway.start("""
                providers:
                  private-ca: { type: openai, baseUrl: "https://localhost:%d/v1", caFile: "%s" }
                  default-trust: { type: openai, baseUrl: "https://localhost:%d/v1" }
                  wrong-name: { type: openai, baseUrl: "https://127.0.0.1:%d/v1", caFile: "%s" }
                routing: { retries: 0 }
                models:
                  - name: trusted
                    deployments: [ { provider: private-ca, model: m } ]
                  - name: untrusted
                    deployments: [ { provider: default-trust, model: m } ]
                  - name: wrong-name
                    deployments: [ { provider: wrong-name, model: m } ]
                """.formatted(port, caFile, port, port, caFile));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        upstream.shutdown();
        Files.deleteIfExists(caFile);
    }

    static HttpResponse<String> chat(String model) {
        return gateway.post("/v1/chat/completions", "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "Authorization", "Bearer " + TestGateway.MASTER_KEY);
    }

    @Test
    void httpsUpstreamSignedByATrustedCaAnswers() {
        upstream.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,
                 "message":{"role":"assistant","content":"over tls"},"finish_reason":"stop"}]}"""));
        HttpResponse<String> r = chat("trusted");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.body()).contains("over tls");
    }

    @Test
    void untrustedCertificateIsRefused() {
        HttpResponse<String> r = chat("untrusted");
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(r.body()).contains("\"code\":\"upstream_connection_error\"");
    }

    @Test
    void certificateForAnotherHostIsRefused() {
        HttpResponse<String> r = chat("wrong-name");
        assertThat(r.statusCode()).isEqualTo(502);
    }
}
