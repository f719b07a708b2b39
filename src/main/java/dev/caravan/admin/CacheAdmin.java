package dev.caravan.admin;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.ClientRequest;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.policy.cache.ResponseCache;
import dev.caravan.transport.http.Responder;
import io.netty.handler.codec.http.QueryStringDecoder;
import org.apache.camel.AsyncCallback;
import org.apache.camel.Exchange;
import org.apache.camel.support.AsyncProcessorSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;

/**
 * {@code DELETE /admin/cache[?namespace=<name>][&model=<model>]}: empties the response cache, all of it or the
 * entries of one namespace and/or model (exact answers and semantic prompts alike); answers how many answers went.
 * Asynchronous: a shared (Redis) store clears without holding the event loop.
 */
public final class CacheAdmin extends AsyncProcessorSupport {

    private static final Logger LOG = LoggerFactory.getLogger(CacheAdmin.class);

    private final ResponseCache cache;

    public CacheAdmin(ResponseCache cache) {
        this.cache = cache;
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        ClientRequest request = ClientRequest.of(exchange);
        Map<String, List<String>> query = new QueryStringDecoder(request.query() == null ? "" : request.query(), false)
                .parameters();
        String namespace;
        String model;
        try {
            namespace = AdminRequest.single(query, "namespace");
            model = AdminRequest.single(query, "model");
        } catch (GatewayException e) {
            exchange.setException(e);
            callback.done(true);
            return true;
        }
        cache.clear(namespace, model).whenComplete((deleted, error) -> {
            long n = deleted == null ? 0 : deleted;
            LOG.info("Cache cleared (namespace {}, model {}): {} answer(s)", namespace == null ? "any" : namespace,
                    model == null ? "any" : model, n);
            ObjectNode body = Json.object().put("object", "cache.cleared").put("deleted", n);
            body.put("namespace", namespace);
            body.put("model", model);
            Responder.json(exchange, 200, body);
            callback.done(false);
        });
        return false;
    }
}
