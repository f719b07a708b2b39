package dev.caravan.observe;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.caravan.core.Json;
import dev.caravan.usage.Pricing;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Instant;

/**
 * One JSON line per API request on logger {@code caravan.access}: ids, model, deployment (and its region), status,
 * timings, tokens, cost, and which control refused it. Never the key, never the prompt or the answer.
 */
public final class AccessLog {

    private static final Logger LOG = LoggerFactory.getLogger("caravan.access");

    public void write(Exchange exchange) {
        if (!LOG.isInfoEnabled()) {
            return;
        }
        RequestFacts f = RequestFacts.of(exchange);
        if (!f.isApiCall()) {
            return;
        }
        StringWriter text = new StringWriter(384);
        // written field by field: no tree to build and walk for a line per request
        try (JsonGenerator line = Json.MAPPER.getFactory().createGenerator(text)) {
            line.writeStartObject();
            line.writeStringField("ts", Instant.now().toString());
            line.writeStringField("request_id", f.requestId());
            line.writeStringField("method", f.method());
            line.writeStringField("path", f.path());
            line.writeStringField("key_id", f.keyId());
            line.writeStringField("team", f.team());
            line.writeStringField("model", f.model());
            line.writeStringField("deployment", f.deployment());
            if (f.region() != null) {
                line.writeStringField("region", f.region()); // where the request was served: data residency audits
            }
            line.writeNumberField("status", f.status());
            if (f.errorCode() != null) {
                line.writeStringField("error_code", f.errorCode());
            }
            if (f.refusedBy() != null) {
                line.writeStringField("refused_by", f.refusedBy());
            }
            if (f.cache() != null) {
                line.writeStringField("cache", f.cache());
            }
            line.writeBooleanField("stream", f.stream());
            if (f.outcome() != null) {
                line.writeStringField("outcome", f.outcome());
            }
            line.writeNumberField("latency_ms", f.durationNanos() / 1e6);
            line.writeNumberField("upstream_ms", f.upstreamNanos() / 1e6);
            if (f.ttftNanos() >= 0) {
                line.writeNumberField("ttft_ms", f.ttftNanos() / 1e6);
            }
            line.writeNumberField("prompt_tokens", f.usage().promptTokens());
            line.writeNumberField("completion_tokens", f.usage().completionTokens());
            line.writeNumberField("total_tokens", f.usage().totalTokens());
            line.writeNumberField("cached_tokens", f.usage().cachedTokens());
            if (f.usage().estimated()) {
                line.writeBooleanField("usage_estimated", true);
            }
            line.writeFieldName("cost_usd");
            line.writeNumber(Pricing.usd(f.costNanos())); // plain decimal USD, exact to the nano-dollar
            line.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        LOG.info(text.toString());
    }
}
