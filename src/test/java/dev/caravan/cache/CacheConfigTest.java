package dev.caravan.cache;

import dev.caravan.config.CacheConfig;
import dev.caravan.config.ConfigException;
import dev.caravan.config.ConfigLoader;
import dev.caravan.config.GatewayConfig;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The cache's config: the issue's block loads as written, switches per model, team and key, bad values refused. */
class CacheConfigTest {

    private final ConfigLoader loader = new ConfigLoader(name -> "x");

    static final String BASE = """
            providers:
              mock: { type: mock }
            models:
              - name: m
                deployments: [ { provider: mock, model: m } ]
              - name: quiet
                cache: { exact: false, semantic: { enabled: true } }
                deployments: [ { provider: mock, model: q } ]
            teams:
              legal: { cache: { exact: { ttl: 1m }, shared: false } }
              sales: { cache: { shared: true, semantic: true } }
            keys:
              - { id: k, sha256: "%s", team: legal, cache: { exact: true } }
              - { id: solo, sha256: "%s", cache: { semantic: false } }
            """.formatted("a".repeat(64), "b".repeat(64));

    @Test
    void theIssuesConfigBlockLoadsAsWritten() throws Exception {
        GatewayConfig config = loader.parse("test", BASE + """
                cache:
                  exact:    { enabled: true, ttl: 10m, maxEntries: 100000, maxBytes: 256MB }
                  semantic: { enabled: false, threshold: 0.9, ttl: 1h, maxEntries: 50000, maxMessages: 4 }
                """);
        CacheConfig cache = config.cache();
        assertThat(cache.exact()).isEqualTo(new CacheConfig.Exact(true, Duration.ofMinutes(10), 100_000, 256L << 20));
        assertThat(cache.semantic().enabled()).isFalse();
        assertThat(cache.semantic().threshold()).isEqualTo(0.9);
        assertThat(cache.semantic().ttl()).isEqualTo(Duration.ofHours(1));
        assertThat(cache.semantic().maxEntries()).isEqualTo(50_000);
        assertThat(cache.semantic().maxMessages()).isEqualTo(4);
    }

    @Test
    void withoutACacheBlockNothingIsCachedAndWithOneTheExactCacheIsOn() throws Exception {
        assertThat(loader.parse("test", BASE).cache().exactFor("m", null, "solo")).isFalse();
        assertThat(loader.parse("test", BASE + "cache: {}\n").cache().exactFor("m", null, "solo")).isTrue();
        assertThat(loader.parse("test", BASE + "cache: {}\n").cache().semanticFor("m", null, "solo")).isFalse();
    }

    @Test
    void theMostSpecificSwitchWinsKeyThenTeamThenModel() throws Exception {
        CacheConfig cache = loader.parse("test", BASE + "cache: {}\n").cache();
        assertThat(cache.exactFor("quiet", null, "solo")).as("the model says no").isFalse();
        assertThat(cache.exactFor("quiet", "legal", "k")).as("the key says yes").isTrue();
        assertThat(cache.semanticFor("quiet", null, "other")).as("the model turns it on").isTrue();
        assertThat(cache.semanticFor("quiet", null, "solo")).as("the key turns it off").isFalse();
        assertThat(cache.semanticFor("m", "sales", "x")).as("the team turns it on").isTrue();
        assertThat(cache.exactTtlFor("m", "legal", "k")).isEqualTo(Duration.ofMinutes(1));
        assertThat(cache.sharedTeams()).containsExactly("sales");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "cache: { exact: { maxBytes: 12 parsecs } }            | maxBytes",
            "cache: { exact: { ttl: forever } }                    | ttl",
            "cache: { exact: { ttl: 90d } }                        | cache.exact.ttl",
            "cache: { exact: { maxEntries: 0 } }                   | maxEntries",
            "cache: { semantic: { threshold: 1.5 } }               | threshold",
            "cache: { semantic: { maxMessages: 0 } }               | maxMessages",
            "cache: { coalesce: { timeout: 0ms } }                 | cache.coalesce.timeout",
            "cache: { exact: { sometimes: true } }                 | sometimes",
    })
    void aBadValueIsRefusedNamingItsField(String block, String field) {
        ConfigException e = catchThrowableOfType(() -> loader.parse("test", BASE + block + "\n"), ConfigException.class);
        assertThat(e).isNotNull();
        assertThat(String.join("; ", e.problems())).contains(field);
    }
}
