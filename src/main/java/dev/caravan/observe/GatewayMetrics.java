package dev.caravan.observe;

import dev.caravan.http.Responder;
import dev.caravan.http.StreamRegistry;
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

    public void record(Exchange exchange) {
        RequestFacts f = RequestFacts.of(exchange);
        if (!f.isApiCall()) {
            return;
        }
        String status = Integer.toString(f.status());
        Counter.builder("caravan.requests").description("Requests answered")
                .tags("model", f.model(), "deployment", f.deployment(), "status", status, "key", f.keyId(), "team", f.team())
                .register(registry).increment();
        Timer.builder("caravan.request.duration").description("Time to answer (to the stream's end for streams)")
                .tags("model", f.model(), "deployment", f.deployment(), "stream", Boolean.toString(f.stream()))
                .register(registry).record(f.durationNanos(), TimeUnit.NANOSECONDS);
        if (f.upstreamNanos() > 0 && !f.stream()) {
            Timer.builder("caravan.overhead").description("Gateway time excluding the upstream call")
                    .tags("model", f.model())
                    .register(registry).record(Math.max(0, f.durationNanos() - f.upstreamNanos()), TimeUnit.NANOSECONDS);
        }
        if (f.ttftNanos() >= 0) {
            Timer.builder("caravan.time.to.first.token").description("Request start to the first streamed token")
                    .tags("model", f.model(), "deployment", f.deployment())
                    .register(registry).record(f.ttftNanos(), TimeUnit.NANOSECONDS);
        }
        if (!f.usage().isEmpty()) {
            tokens(f, "input", f.usage().promptTokens());
            tokens(f, "output", f.usage().completionTokens());
        }
    }

    private void tokens(RequestFacts f, String direction, long n) {
        Counter.builder("caravan.tokens").description("Tokens, by direction")
                .tags("direction", direction, "model", f.model(), "deployment", f.deployment(), "key", f.keyId(), "team", f.team())
                .register(registry).increment(n);
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
