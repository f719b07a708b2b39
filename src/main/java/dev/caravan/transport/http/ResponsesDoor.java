package dev.caravan.transport.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.ClientRequest;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.dialect.openai.RequestChecks;
import dev.caravan.dialect.openai.ResponseStore;
import dev.caravan.dialect.openai.ResponsesRequest;
import org.apache.camel.AsyncCallback;
import org.apache.camel.AsyncProcessor;
import org.apache.camel.Exchange;
import org.apache.camel.support.AsyncProcessorSupport;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * The Responses API's door: {@code POST /v1/responses} parsed into the canonical chat request (continuing a stored
 * response's conversation when {@code previous_response_id} names one), and {@code GET} / {@code DELETE
 * /v1/responses/{id}} on the stored responses, for the key that made them only (anyone else: 404). Its three steps
 * are {@link AsyncProcessor}s: synchronous when the store has the answer at hand (in memory, or not yet written);
 * when it must read its database the route waits, holding no thread, and resumes on the request's event loop.
 */
public final class ResponsesDoor {

    private static final String PREFIX = "/v1/responses/";

    private final Ingress ingress;
    private final ResponseStore store;

    public ResponsesDoor(Ingress ingress, ResponseStore store) {
        this.ingress = ingress;
        this.store = store;
    }

    /** {@code POST /v1/responses}: sets {@code caravan.request} and {@code caravan.responses}. */
    public AsyncProcessor parse() {
        return new Step(this::parse);
    }

    /** {@code GET /v1/responses/{id}}: the stored response. */
    public AsyncProcessor get() {
        return new Step(this::get);
    }

    /** {@code DELETE /v1/responses/{id}}. */
    public AsyncProcessor delete() {
        return new Step(this::delete);
    }

    private CompletionStage<Runnable> parse(Exchange exchange) {
        ObjectNode body = ingress.parseModelRequest(exchange);
        GatewayException hosted = ResponsesRequest.hostedTool(body); // runs at OpenAI: the body passes through there
        JsonNode previousId = hosted == null ? body.get("previous_response_id") : null; // passed through: OpenAI's id
        if (previousId == null || previousId.isNull()) {
            return now(() -> accept(exchange, body, null, hosted)); // no store to ask: no hop
        }
        if (!previousId.isTextual()) {
            throw RequestChecks.invalidType("previous_response_id", "a string", previousId);
        }
        String id = previousId.asText();
        return store.find(id, Responder.ownerOf(exchange)).thenApply(found -> () -> accept(exchange, body,
                found.orElseThrow(() -> new GatewayException(404, "invalid_request_error", "previous_response_not_found",
                        "previous_response_id", "Previous response with id '" + GatewayException.quote(id)
                        + "' not found (responses are kept for a while, and only for the key that made them).",
                        Map.of())).conversation(), null));
    }

    private void accept(Exchange exchange, ObjectNode body, List<JsonNode> previous, GatewayException hosted) {
        ObjectNode canonical = Json.object();
        ResponsesRequest.Context context = ResponsesRequest.toChat(body, canonical, previous);
        ingress.acceptChat(exchange, canonical);
        exchange.setProperty(ExchangeKeys.RESPONSES, context);
        if (hosted != null) {
            ingress.passThrough(exchange, dev.caravan.core.PassThrough.RESPONSES, body, canonical, hosted);
        }
    }

    private CompletionStage<Runnable> get(Exchange exchange) {
        String id = id(exchange);
        return store.find(id, Responder.ownerOf(exchange)).thenApply(found -> () ->
                Responder.json(exchange, 200, found.orElseThrow(() -> notFound(id)).response()));
    }

    private CompletionStage<Runnable> delete(Exchange exchange) {
        String id = id(exchange);
        return store.delete(id, Responder.ownerOf(exchange)).thenApply(deleted -> () -> {
            if (!deleted) {
                throw notFound(id);
            }
            Responder.json(exchange, 200, Json.object().put("id", id).put("object", "response").put("deleted", true));
        });
    }

    /** GET or DELETE, answering 405 otherwise. */
    public void requireGetOrDelete(Exchange exchange) {
        String method = ClientRequest.of(exchange).method();
        if (!"GET".equals(method) && !"HEAD".equals(method) && !"DELETE".equals(method)) {
            throw GatewayException.methodNotAllowed(method, ClientRequest.of(exchange).path(), "GET, HEAD, DELETE, OPTIONS");
        }
    }

    private static String id(Exchange exchange) {
        String path = ClientRequest.of(exchange).path();
        String id = path.substring(PREFIX.length());
        if (id.isEmpty() || id.contains("/")) {
            throw GatewayException.notFound("not_found", "No endpoint " + GatewayException.quote(path) + ".");
        }
        return id;
    }

    private static GatewayException notFound(String id) {
        return GatewayException.notFound("not_found", "Response with id '" + GatewayException.quote(id) + "' not found.");
    }

    private static CompletionStage<Runnable> now(Runnable finish) {
        return CompletableFuture.completedFuture(finish);
    }

    /**
     * A door step: {@code start} checks what it can at once and asks the store; what is left (the {@code Runnable}
     * its stage yields) touches the exchange, at once when the stage is already complete, else on the request's
     * event loop once the store answers.
     */
    private static final class Step extends AsyncProcessorSupport {

        private final Function<Exchange, CompletionStage<Runnable>> start;

        Step(Function<Exchange, CompletionStage<Runnable>> start) {
            this.start = start;
        }

        @Override
        public boolean process(Exchange exchange, AsyncCallback callback) {
            CompletableFuture<Runnable> asked;
            try {
                asked = start.apply(exchange).toCompletableFuture();
            } catch (RuntimeException e) {
                exchange.setException(e);
                callback.done(true);
                return true;
            }
            if (asked.isDone()) {
                finish(exchange, asked);
                callback.done(true);
                return true;
            }
            asked.whenCompleteAsync((finish, e) -> {
                finish(exchange, asked);
                callback.done(false);
            }, resumeOn());
            return false;
        }

        private static void finish(Exchange exchange, CompletableFuture<Runnable> asked) {
            try {
                asked.join().run();
            } catch (CompletionException e) {
                exchange.setException(e.getCause() != null ? e.getCause() : e);
            } catch (RuntimeException e) {
                exchange.setException(e);
            }
        }

        /** Where a late answer resumes the route: the event loop the request is on (off a loop, in place). */
        private static Executor resumeOn() {
            io.netty.util.concurrent.EventExecutor loop = io.netty.util.internal.ThreadExecutorMap.currentExecutor();
            return loop != null ? loop : Runnable::run;
        }
    }
}
