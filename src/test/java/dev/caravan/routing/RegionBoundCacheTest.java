package dev.caravan.routing;

import dev.caravan.TestGateway;
import dev.caravan.auth.KeyAuthenticator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The response cache never hands a region-bound caller an answer made elsewhere: two teams share one cache pool,
 * one of them bound to the EU; the same prompt from the unbound team (answered in the US) is not the EU team's hit.
 */
class RegionBoundCacheTest {

    static final String EU_KEY = "sk-eu-cache-0123456789";
    static final String OPEN_KEY = "sk-open-cache-0123456789";
    static TestGateway gateway;

    static String sha(String key) {
        return HexFormat.of().formatHex(KeyAuthenticator.sha256(key));
    }

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start("""
                providers:
                  mock: { type: mock }
                models:
                  - name: chat
                    strategy: ordered
                    deployments:
                      - { id: chat-us, provider: mock, model: made-in-us, region: us }
                      - { id: chat-eu, provider: mock, model: made-in-eu, region: eu }
                cache: { exact: { ttl: 10m } }
                teams:
                  eu-team: { regions: [eu], cache: { shared: true } }
                  open-team: { cache: { shared: true } }
                keys:
                  - { id: eu, sha256: "%s", team: eu-team }
                  - { id: open, sha256: "%s", team: open-team }
                """.formatted(sha(EU_KEY), sha(OPEN_KEY)));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    static HttpResponse<String> ask(String key) {
        return gateway.post("/v1/chat/completions",
                "{\"model\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"where were you made?\"}]}",
                "Authorization", "Bearer " + key, "Content-Type", "application/json");
    }

    @Test
    void anEuBoundCallerIsNotAnsweredFromAnEntryAUsDeploymentMade() {
        HttpResponse<String> open = ask(OPEN_KEY);
        assertThat(open.headers().firstValue("x-caravan-deployment")).hasValue("chat-us");
        assertThat(ask(OPEN_KEY).headers().firstValue("x-caravan-cache")).hasValue("HIT"); // the pool works

        HttpResponse<String> eu = ask(EU_KEY);
        assertThat(eu.headers().firstValue("x-caravan-cache")).hasValue("MISS");
        assertThat(eu.headers().firstValue("x-caravan-deployment")).hasValue("chat-eu");
        assertThat(ask(EU_KEY).headers().firstValue("x-caravan-cache")).hasValue("HIT");
    }
}
