package dev.caravan.observe;

import dev.caravan.http.Responder;
import dev.caravan.http.StreamRegistry;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.camel.Exchange;

import java.util.concurrent.TimeUnit;

/** Caravan's Prometheus metrics (names as in DESIGN.md), recorded once per request in post-processing. */
public final class GatewayMetrics {

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    public GatewayMetrics(StreamRegistry streams) {
        Gauge.builder("caravan.open.streams", streams, StreamRegistry::openStreams)
                .description("Streams being relayed right now").register(registry);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** The labels of one request's meters; bounded by config (models, deployments, keys) and by statuses. */
    private record Labels(String model, String deployment, String status, String keyId, String team, boolean stream) {
    }

    /** One label set's meters, found once and reused: building and registering a meter per request cost ~5%. */
    private final class Meters {
        final Counter requests;
        final Timer duration;
        final Timer overhead;
        final Counter tokensIn;
        final Counter tokensOut;
        volatile Timer ttft;

        Meters(Labels l) {
            requests = Counter.builder("caravan.requests").description("Requests answered")
                    .tags("model", l.model, "deployment", l.deployment, "status", l.status, "key", l.keyId, "team", l.team)
                    .register(registry);
            duration = Timer.builder("caravan.request.duration").description("Time to answer (to the stream's end for streams)")
                    .tags("model", l.model, "deployment", l.deployment, "stream", Boolean.toString(l.stream))
                    .register(registry);
            overhead = Timer.builder("caravan.overhead").description("Gateway time excluding the upstream call")
                    .tags("model", l.model).register(registry);
            tokensIn = tokens(l, "input");
            tokensOut = tokens(l, "output");
        }

        private Counter tokens(Labels l, String direction) {
            return Counter.builder("caravan.tokens").description("Tokens, by direction")
                    .tags("direction", direction, "model", l.model, "deployment", l.deployment, "key", l.keyId, "team", l.team)
                    .register(registry);
        }

        Timer ttft(Labels l) {
            Timer t = ttft;
            if (t == null) {
                t = Timer.builder("caravan.time.to.first.token").description("Request start to the first streamed token")
                        .tags("model", l.model, "deployment", l.deployment).register(registry);
                ttft = t;
            }
            return t;
        }
    }

    // bounded like every map here; past the bound a label set's meters are looked up again, never lost
    private final Cache<Labels, Meters> meters = Caffeine.newBuilder().maximumSize(10_000).build();

    public void record(Exchange exchange) {
        RequestFacts f = RequestFacts.of(exchange);
        if (!f.isApiCall()) {
            return;
        }
        Labels labels = new Labels(f.model(), f.deployment(), Integer.toString(f.status()), f.keyId(), f.team(), f.stream());
        Meters m = meters.get(labels, Meters::new);
        m.requests.increment();
        m.duration.record(f.durationNanos(), TimeUnit.NANOSECONDS);
        if (f.upstreamNanos() > 0 && !f.stream()) {
            m.overhead.record(Math.max(0, f.durationNanos() - f.upstreamNanos()), TimeUnit.NANOSECONDS);
        }
        if (f.ttftNanos() >= 0) {
            m.ttft(labels).record(f.ttftNanos(), TimeUnit.NANOSECONDS);
        }
        if (!f.usage().isEmpty()) {
            m.tokensIn.increment(f.usage().promptTokens());
            m.tokensOut.increment(f.usage().completionTokens());
        }
    }

    public void configReload(String kind, boolean success) {
        Counter.builder("caravan.config.reload").description("Config and route reloads")
                .tags("kind", kind, "result", success ? "success" : "failure")
                .register(registry).increment();
    }

    /** {@code GET /metrics}: Prometheus text format. */
    public void scrape(Exchange exchange) {
        Responder.json(exchange, 200, registry.scrape());
        exchange.getMessage().setHeader(Exchange.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    }
}
