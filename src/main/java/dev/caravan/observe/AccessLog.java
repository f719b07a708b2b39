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
 * One JSON line per API request, and per request refused at the door on any path, on logger {@code caravan.access}:
 * ids, the client (address, user agent), the model asked for and the one that answered, deployment (and its region),
 * attempts, status, timings, tokens, cost, and which control refused it. Never the key, never the prompt or the
 * answer.
 */
public final class AccessLog {

    private static final Logger LOG = LoggerFactory.getLogger("caravan.access");

    public void write(Exchange exchange) {
        if (!LOG.isInfoEnabled()) {
            return;
        }
        RequestFacts f = RequestFacts.of(exchange);
        boolean door = DoorRefusals.reason(f) != null;
        if (!f.isApiCall() && !door) {
            return; // health checks and scrapes: metrics count them
        }
        StringWriter text = new StringWriter(384);
        // written field by field: no tree to build and walk for a line per request
        try (JsonGenerator line = Json.MAPPER.getFactory().createGenerator(text)) {
            line.writeStartObject();
            line.writeStringField("ts", Instant.now().toString());
            line.writeStringField("request_id", f.requestId());
            line.writeStringField("method", f.method());
            line.writeStringField("path", f.path());
            line.writeStringField("endpoint", f.endpoint());
            line.writeStringField("ingress", f.ingress()); // http, or the bus it came on: jms, amqp, kafka
            client(line, f.client(), f.userAgent());
            line.writeStringField("key_id", f.keyId());
            line.writeStringField("team", f.team());
            if (f.requestedModel() != null) {
                line.writeStringField("requested_model", f.requestedModel()); // a 403 names what was refused
            }
            line.writeStringField("model", f.answeringModel());
            if (f.fallback() != null) {
                line.writeBooleanField("fallback", true);
            }
            line.writeStringField("deployment", f.deployment());
            line.writeNumberField("attempts", Math.max(0, f.attempts()));
            if (f.region() != null) {
                line.writeStringField("region", f.region()); // where the request was served: data residency audits
            }
            line.writeNumberField("status", f.status());
            if (f.errorCode() != null) {
                line.writeStringField("error_code", f.errorCode());
            }
            if (f.refusedBy() != null || door) {
                line.writeStringField("refused_by", door ? "door" : f.refusedBy());
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

    /** The line of a request the listener answered by itself (no route ran): what is known of it. */
    void writeDoorRefusal(String requestId, String method, String path, String client, String userAgent, int status,
                          String code) {
        if (!LOG.isInfoEnabled()) {
            return;
        }
        StringWriter text = new StringWriter(256);
        try (JsonGenerator line = Json.MAPPER.getFactory().createGenerator(text)) {
            line.writeStartObject();
            line.writeStringField("ts", Instant.now().toString());
            line.writeStringField("request_id", requestId);
            line.writeStringField("method", method == null ? "" : RequestFacts.printable(method, 32));
            String cleanPath = path == null ? "" : RequestFacts.printable(path, 256);
            line.writeStringField("path", cleanPath);
            line.writeStringField("endpoint", RequestFacts.endpointOf(cleanPath));
            line.writeStringField("ingress", "http");
            client(line, client, userAgent == null ? null : RequestFacts.printable(userAgent, RequestFacts.MAX_USER_AGENT));
            line.writeNumberField("status", status);
            if (code != null) {
                line.writeStringField("error_code", code);
            }
            line.writeStringField("refused_by", "door");
            line.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        LOG.info(text.toString());
    }

    private static void client(JsonGenerator line, String address, String userAgent) throws IOException {
        if (address != null) {
            line.writeStringField("client", address);
        }
        if (userAgent != null) {
            line.writeStringField("user_agent", userAgent);
        }
    }
}
