package dev.caravan.observe;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.Json;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * One JSON line per API request on logger {@code caravan.access}: ids, model, deployment, status, timings, tokens.
 * Never the key, never the prompt or the answer.
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
        ObjectNode line = Json.object();
        line.put("ts", Instant.now().toString());
        line.put("request_id", f.requestId());
        line.put("method", f.method());
        line.put("path", f.path());
        line.put("key_id", f.keyId());
        line.put("team", f.team());
        line.put("model", f.model());
        line.put("deployment", f.deployment());
        line.put("status", f.status());
        if (f.errorCode() != null) {
            line.put("error_code", f.errorCode());
        }
        line.put("stream", f.stream());
        if (f.outcome() != null) {
            line.put("outcome", f.outcome());
        }
        line.put("latency_ms", f.durationNanos() / 1e6);
        line.put("upstream_ms", f.upstreamNanos() / 1e6);
        if (f.ttftNanos() >= 0) {
            line.put("ttft_ms", f.ttftNanos() / 1e6);
        }
        line.put("prompt_tokens", f.usage().promptTokens());
        line.put("completion_tokens", f.usage().completionTokens());
        line.put("total_tokens", f.usage().totalTokens());
        if (f.usage().estimated()) {
            line.put("usage_estimated", true);
        }
        LOG.info(new String(Json.bytes(line), StandardCharsets.UTF_8));
    }
}
