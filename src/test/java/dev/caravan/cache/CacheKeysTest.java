package dev.caravan.cache;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.policy.cache.CacheControls;
import dev.caravan.policy.cache.CacheKeys;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What the exact key covers: everything that changes the answer, nothing that only changes how it travels. */
class CacheKeysTest {

    static ObjectNode request(String json) {
        return Json.parseObjectOrNull(json);
    }

    static String key(String json) {
        return CacheKeys.exact("team:a", "default", "chat", request(json));
    }

    static final String BASE = "{\"model\":\"m\",\"temperature\":0.2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    @Test
    void fieldOrderAndNumberSpellingDoNotMatter() {
        assertThat(key("{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"temperature\":0.20,\"model\":\"m\"}"))
                .isEqualTo(key(BASE));
    }

    @Test
    void howTheAnswerTravelsDoesNotMatter() {
        assertThat(key("{\"model\":\"m\",\"temperature\":0.2,\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                + "\"user\":\"u-17\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")).isEqualTo(key(BASE));
    }

    @Test
    void everythingThatChangesTheAnswerDoes() {
        assertThat(key(BASE.replace("0.2", "0.3"))).isNotEqualTo(key(BASE));
        assertThat(key(BASE.replace("\"m\"", "\"other\""))).isNotEqualTo(key(BASE));
        assertThat(key(BASE.replace("hi", "hi "))).isNotEqualTo(key(BASE));
        assertThat(key(BASE.replace("{\"model\"", "{\"seed\":7,\"model\""))).isNotEqualTo(key(BASE));
        assertThat(key(BASE.replace("{\"model\"", "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"model\""))).isNotEqualTo(key(BASE));
        assertThat(key(BASE.replace("{\"model\"", "{\"response_format\":{\"type\":\"json_object\"},\"model\""))).isNotEqualTo(key(BASE));
    }

    @Test
    void scopeNamespaceAndOperationSeparateEntries() {
        ObjectNode r = request(BASE);
        String base = CacheKeys.exact("team:a", "default", "chat", r);
        assertThat(CacheKeys.exact("team:b", "default", "chat", r)).isNotEqualTo(base);
        assertThat(CacheKeys.exact("team:a", "docs", "chat", r)).isNotEqualTo(base);
        assertThat(CacheKeys.exact("team:a", "default", "embeddings", r)).isNotEqualTo(base);
    }

    @Test
    void controlsParseAsAListOrAnObject() {
        assertThat(CacheControls.parse("no-store, ttl=5m, namespace=docs"))
                .isEqualTo(new CacheControls(false, true, Duration.ofMinutes(5), "docs"));
        assertThat(CacheControls.parse("{\"no-cache\":true,\"ttl\":\"30s\"}"))
                .isEqualTo(new CacheControls(true, false, Duration.ofSeconds(30), "default"));
        assertThat(CacheControls.parse(null)).isEqualTo(CacheControls.NONE);
    }

    @Test
    void aBadControlIsTheClientsErrorAndNeverEchoesMuch() {
        assertThatThrownBy(() -> CacheControls.parse("ttl=forever")).isInstanceOf(GatewayException.class)
                .hasMessageContaining("ttl");
        assertThatThrownBy(() -> CacheControls.parse("namespace=" + "x".repeat(100))).isInstanceOf(GatewayException.class);
        assertThatThrownBy(() -> CacheControls.parse("keep-forever")).isInstanceOf(GatewayException.class)
                .hasMessageContaining("not a cache control");
    }
}
