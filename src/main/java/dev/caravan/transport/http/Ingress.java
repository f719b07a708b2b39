package dev.caravan.transport.http;

import dev.caravan.core.ClientRequest;
import dev.caravan.dialect.openai.RequestChecks;
import dev.caravan.dialect.openai.TextCompletions;
import dev.caravan.core.Dialect;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.PassThrough;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.dialect.anthropic.MessagesTranslator;
import dev.caravan.core.Json;
import org.apache.camel.Exchange;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.QueryStringDecoder;
import org.apache.camel.Message;
import org.apache.camel.component.netty.http.NettyHttpMessage;

import java.io.IOException;
import java.net.URI;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The door's work: capture the client's request into {@code caravan.clientRequest} and strip every wire header from
 * the message (so none is echoed back or forwarded), check methods, and parse the OpenAI chat body.
 */
public final class Ingress {


    private final AtomicBoolean draining = new AtomicBoolean();
    // set once at start, before the listener opens (caravan.trustedProxies)
    private volatile TrustedProxies trustedProxies = TrustedProxies.NONE;

    /** Whose {@code X-Forwarded-For} names the client ({@code caravan.trustedProxies}); none by default. */
    public void trustProxies(TrustedProxies proxies) {
        this.trustedProxies = proxies;
    }

    /**
     * Reads the request straight from Netty's aggregated request (the listener maps no headers into the Camel
     * message: {@code mapHeaders=false}), keeps it in {@code caravan.clientRequest}, and leaves only the two headers
     * the routes dispatch on.
     */
    public void capture(Exchange exchange) {
        Message in = exchange.getMessage();
        exchange.setProperty(ExchangeKeys.START_NANOS, System.nanoTime());
        exchange.setProperty(ExchangeKeys.REQUEST_ID, newRequestId());
        FullHttpRequest request = ((NettyHttpMessage) in).getHttpRequest();
        Map<String, String> headers = new HashMap<>();
        for (Map.Entry<String, String> h : request.headers()) {
            headers.putIfAbsent(h.getKey().toLowerCase(Locale.ROOT), h.getValue());
        }
        String method = request.method().name();
        String uri = request.uri();
        int q = uri.indexOf('?');
        String query = q >= 0 ? uri.substring(q + 1) : null;
        String rawPath = uri.startsWith("http") ? URI.create(uri).getRawPath() : (q >= 0 ? uri.substring(0, q) : uri);
        String path;
        boolean malformed = false;
        try {
            path = new QueryStringDecoder(rawPath).path();
        } catch (IllegalArgumentException e) { // a stray '%' (or a bad one): answered 400 once the request is captured
            path = rawPath;
            malformed = true;
        }
        if (path.length() > 1 && path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        // a copy: the request's buffer goes back to Netty's pool when the exchange completes
        byte[] body = "GET".equals(method) || "HEAD".equals(method) ? new byte[0] : ByteBufUtil.getBytes(request.content());
        boolean keepAlive = io.netty.handler.codec.http.HttpUtil.isKeepAlive(request); // 1.1 unless close, 1.0 if keep-alive
        exchange.setProperty(ExchangeKeys.CLIENT_REQUEST, new ClientRequest(method, path, query, headers, body, keepAlive));
        exchange.setProperty(ExchangeKeys.DIALECT, Dialect.forPath(path));
        String operation = operationOf(path);
        if (operation != null) {
            exchange.setProperty(ExchangeKeys.OPERATION, operation);
        }
        if (in.getHeader("CamelNettyRemoteAddress") instanceof java.net.InetSocketAddress peer) {
            String address = peer.getAddress() != null ? peer.getAddress().getHostAddress() : peer.getHostString();
            TrustedProxies proxies = trustedProxies;
            exchange.setProperty(ExchangeKeys.CLIENT_ADDRESS, proxies.isEmpty() ? address
                    : proxies.clientAddress(address, request.headers().getAll("x-forwarded-for")));
        }
        in.removeHeaders("*");
        in.setBody(null);
        // kept for dispatching in the routes; Camel* headers never reach the wire
        in.setHeader(Exchange.HTTP_URI, path);
        in.setHeader(Exchange.HTTP_METHOD, method);
        RefusedRequest.rethrow(request, exchange); // the listener refused its body (413, 503): answer that
        if (malformed) {
            throw GatewayException.badRequest("invalid_path", null, "The path holds a malformed %-escape.");
        }
    }

    /** The API operation an HTTP path asks for; null for what is not an API call (health, metrics, unknown paths). */
    static String operationOf(String path) {
        return switch (path) {
            case "/v1/chat/completions", "/v1/messages", "/v1/completions", "/v1/responses" -> ExchangeKeys.CHAT;
            case "/v1/embeddings" -> ExchangeKeys.EMBEDDINGS;
            case "/v1/messages/count_tokens" -> ExchangeKeys.COUNT_TOKENS;
            case "/v1/models" -> ExchangeKeys.MODELS;
            default -> path.startsWith("/v1/models/") ? ExchangeKeys.MODELS
                    : path.startsWith("/v1/") ? ExchangeKeys.UNKNOWN_API : null;
        };
    }

    /** While shutting down, new work is refused so open streams can finish. */
    public void admit(Exchange exchange) {
        if (draining.get()) {
            exchange.setProperty("Connection", "close");
            throw GatewayException.unavailable("shutting_down", "The gateway is shutting down; retry on another instance.");
        }
    }

    public void startDraining() {
        draining.set(true);
    }

    public boolean isDraining() {
        return draining.get();
    }

    public void requirePost(Exchange exchange) {
        requireMethod(exchange, "POST");
    }

    public void requireDelete(Exchange exchange) {
        requireMethod(exchange, "DELETE");
    }

    /** GET, and HEAD wherever GET is (the same answer without its body). */
    public void requireGet(Exchange exchange) {
        requireMethod(exchange, "GET");
    }

    private void requireMethod(Exchange exchange, String allowed) {
        ClientRequest request = ClientRequest.of(exchange);
        String method = request.method();
        if (!allowed.equals(method) && !("GET".equals(allowed) && "HEAD".equals(method))) {
            String allow = allowedMethods(request.path());
            throw GatewayException.methodNotAllowed(method, request.path(), allow == null ? allowed : allow);
        }
    }

    /**
     * The methods each endpoint answers, for {@code Allow} (OPTIONS, 405) and CORS preflights; null for a path that
     * is no endpoint. Kept beside the dispatch in routes/ingress-http.camel.yaml: a new endpoint adds a line here.
     */
    public static String allowedMethods(String path) {
        return switch (path) {
            case "/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/embeddings", "/v1/messages", "/v1/messages/count_tokens" -> "POST, OPTIONS";
            case "/v1/models", "/health/live", "/health/ready", "/health/deployments", "/metrics" -> "GET, HEAD, OPTIONS";
            case "/admin/cache" -> "DELETE, OPTIONS";
            default -> path.startsWith("/v1/responses/") ? "GET, HEAD, DELETE, OPTIONS" : path.startsWith("/admin/") ? "GET, POST, PATCH, DELETE, OPTIONS" : path.startsWith("/v1/models/") && path.length() > "/v1/models/".length() ? "GET, HEAD, OPTIONS" : null;
        };
    }

    /** {@code OPTIONS}: 204 with the path's methods in {@code Allow}; the cors step adds a preflight's answer. */
    public void options(Exchange exchange) {
        ClientRequest request = ClientRequest.of(exchange);
        String allow = allowedMethods(request.path());
        if (allow == null || (ClientRequest.viaManagementListener(exchange) && request.path().startsWith("/v1/"))) {
            notFound(exchange);
        }
        Message out = exchange.getMessage();
        out.setHeader("Allow", allow);
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, 204);
        out.setBody(null);
        exchange.setProperty(ExchangeKeys.STATUS, 204);
    }

    /**
     * The listeners' last step for {@code HEAD}: the GET answer's status and headers without its body (the listener's
     * encoder does not know the request was a HEAD; a body would be read as the start of the next answer).
     */
    public void dropBodyOfHead(Exchange exchange) {
        ClientRequest request = ClientRequest.of(exchange);
        Message out = exchange.getMessage();
        if (request != null && "HEAD".equals(request.method()) && !(out.getBody() instanceof io.netty.handler.codec.http.HttpResponse)) {
            out.setBody(null);
        }
    }

    /**
     * The listeners' last step: {@code x-caravan-request-id} on every answer (health, metrics, the models list,
     * OPTIONS, admin), not only on model answers; a stream's head carries it already, errors get it from the renderer.
     */
    public void stampRequestId(Exchange exchange) {
        Message out = exchange.getMessage();
        if (!(out.getBody() instanceof io.netty.handler.codec.http.HttpResponse) && out.getHeader(REQUEST_ID_HEADER) == null) {
            out.setHeader(REQUEST_ID_HEADER, exchange.getProperty(ExchangeKeys.REQUEST_ID, String.class));
        }
    }

    static final String REQUEST_ID_HEADER = "x-caravan-request-id";

    public void notFound(Exchange exchange) {
        ClientRequest request = ClientRequest.of(exchange);
        throw GatewayException.notFound("not_found", "No endpoint " + GatewayException.quote(request.method()) + " "
                + GatewayException.quote(request.path()) + ".");
    }

    /** The management listener's first step after capture. */
    public void management(Exchange exchange) {
        exchange.setProperty(ExchangeKeys.LISTENER, ExchangeKeys.MANAGEMENT);
    }

    /**
     * Parses and checks an OpenAI chat-completions body into {@code caravan.request}; takes Caravan's own
     * {@code caravan} object out of it (into {@code caravan.controls}) so it never reaches the upstream.
     */
    public void parseChatRequest(Exchange exchange) {
        ObjectNode body = parseModelRequest(exchange);
        JsonNode messages = body.get("messages");
        if (messages == null || !messages.isArray() || messages.isEmpty()) {
            throw GatewayException.badRequest("missing_required_parameter", "messages",
                    "'messages' must be a non-empty array.");
        }
        for (JsonNode m : messages) {
            if (!m.isObject() || !m.path("role").isTextual()) {
                throw GatewayException.badRequest("invalid_value", "messages",
                        "Each message must be an object with a 'role'.");
            }
        }
        acceptChat(exchange, body);
    }

    /**
     * The canonical chat request every chat-shaped door ends with (chat, text completions, responses): its
     * {@code stream} a boolean, its fields checked, then {@code caravan.request} and {@code caravan.streaming} set.
     */
    void acceptChat(Exchange exchange, ObjectNode canonical) {
        JsonNode stream = canonical.get("stream");
        if (stream != null && !stream.isBoolean() && !stream.isNull()) {
            throw GatewayException.badRequest("invalid_type", "stream", "'stream' must be a boolean.");
        }
        RequestChecks.chat(canonical);
        exchange.setProperty(ExchangeKeys.REQUEST, canonical);
        exchange.setProperty(ExchangeKeys.STREAMING, stream != null && stream.asBoolean(false));
    }

    /**
     * Parses an Anthropic {@code /v1/messages} body and translates it to the canonical request, so every later
     * step (and every provider) sees one shape; the answer is translated back by the responder.
     */
    public void parseMessagesRequest(Exchange exchange) {
        ObjectNode body = parseModelRequest(exchange);
        JsonNode stream = body.get("stream");
        if (stream != null && !stream.isBoolean() && !stream.isNull()) {
            throw GatewayException.badRequest("invalid_type", "stream", "stream: must be a boolean.");
        }
        ObjectNode canonical = translate(exchange, body, false);
        exchange.setProperty(ExchangeKeys.REQUEST, canonical);
        exchange.setProperty(ExchangeKeys.STREAMING, canonical.path("stream").asBoolean(false));
    }

    /** {@code /v1/messages/count_tokens}: a messages body without {@code max_tokens}, counted, not answered. */
    public void parseCountTokensRequest(Exchange exchange) {
        exchange.setProperty(ExchangeKeys.REQUEST, translate(exchange, parseModelRequest(exchange), true));
    }

    /** Anthropic to canonical; a translator failure on odd input is the client's 400, never a 500. */
    private static ObjectNode translate(Exchange exchange, ObjectNode body, boolean countOnly) {
        try {
            return MessagesTranslator.toCanonical(body, countOnly);
        } catch (GatewayException e) {
            throw e;
        } catch (RuntimeException e) {
            throw GatewayException.untranslatable(exchange, e);
        }
    }

    /** Parses and checks an OpenAI embeddings body into {@code caravan.request}. */
    /**
     * {@code /v1/completions} (legacy text completions): the prompt becomes the canonical chat request's one user
     * turn ({@link TextCompletions}), checked as a chat body; the responder turns the answer back into text choices.
     * The body as written passes through to deployments on servers with {@code /completions}.
     */
    public void parseCompletionsRequest(Exchange exchange) {
        ObjectNode body = parseModelRequest(exchange);
        ObjectNode canonical = Json.object();
        TextCompletions.Prompt prompt = TextCompletions.toChat(body, canonical);
        acceptChat(exchange, canonical);
        exchange.setProperty(ExchangeKeys.TEXT_COMPLETION, prompt.echo() == null ? "" : prompt.echo());
        // a server with /completions gets the body as written; what chat cannot do is served only there
        passThrough(exchange, PassThrough.COMPLETIONS, body, canonical, prompt.chatCannot());
    }

    /**
     * Marks a request that may be sent upstream as the client wrote it ({@code caravan.passThrough}), to the
     * deployments that serve {@code endpoint}; with a {@code refusal}, only to them (the route step answers it when
     * the model has none).
     */
    void passThrough(Exchange exchange, String endpoint, ObjectNode body, ObjectNode canonical, GatewayException refusal) {
        exchange.setProperty(ExchangeKeys.PASS_THROUGH, new PassThrough(endpoint, body, canonical, refusal));
    }

    public void parseEmbeddingsRequest(Exchange exchange) {
        ObjectNode body = parseModelRequest(exchange);
        RequestChecks.embeddings(body);
        exchange.setProperty(ExchangeKeys.REQUEST, body);
    }

    /**
     * What every model request shares: a JSON object naming a model; Caravan's own {@code caravan} object is taken
     * out of it (into {@code caravan.controls}) so it never reaches the upstream.
     */
    ObjectNode parseModelRequest(Exchange exchange) {
        ObjectNode body = parseJsonObject(exchange);
        JsonNode model = body.get("model");
        if (model != null && !model.isNull() && !model.isTextual()) {
            throw RequestChecks.invalidType("model", "a string", model); // "model": 5 is a mistake, not a missing model
        }
        if (model == null || !model.isTextual() || model.asText().isBlank()) {
            throw GatewayException.badRequest("missing_required_parameter", "model",
                    "You must provide a model parameter.");
        }
        JsonNode controls = body.remove("caravan");
        if (controls != null && !controls.isNull() && !controls.isObject()) {
            throw RequestChecks.invalidType("caravan", "an object (Caravan's own controls)", controls);
        }
        if (controls != null && controls.isObject()) {
            exchange.setProperty(ExchangeKeys.CONTROLS, controls);
        }
        return body;
    }

    ObjectNode parseJsonObject(Exchange exchange) {
        ClientRequest request = ClientRequest.of(exchange);
        String contentType = request.header("content-type");
        boolean declaredJson = contentType == null || contentType.toLowerCase(Locale.ROOT).contains("json");
        if (request.body().length == 0) {
            throw GatewayException.badRequest("invalid_json", null, "The request body is empty; send a JSON object.");
        }
        JsonNode node;
        try {
            node = Json.MAPPER.readTree(request.body());
        } catch (JsonProcessingException e) {
            if (!declaredJson) {
                throw GatewayException.unsupportedMediaType(contentType);
            }
            // only where: Jackson's own message quotes the offending token, which may be part of a prompt or a secret
            var where = e.getLocation();
            throw GatewayException.badRequest("invalid_json", null, "The request body is not valid JSON"
                    + (where == null || where.getLineNr() < 1 ? "" : " (line " + where.getLineNr() + ", column " + where.getColumnNr() + ")")
                    + ".");
        } catch (IOException e) {
            throw GatewayException.badRequest("invalid_json", null, "The request body could not be read.");
        }
        if (!(node instanceof ObjectNode object)) {
            throw GatewayException.badRequest("invalid_json", null, "The request body must be a JSON object.");
        }
        return object;
    }




    /**
     * {@code req_} and 32 hex digits: the time in milliseconds (11 digits, until the year 2527), then 84 random bits.
     * Ids in time order keep the ledger's primary-key index appending: measured on H2, random ids cut batch inserts
     * from 140,000 rows/s to 38,000.
     */
    public static String newRequestId() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        StringBuilder id = new StringBuilder(36).append("req_");
        hex(id, System.currentTimeMillis(), 11);
        hex(id, r.nextLong(), 16);
        hex(id, r.nextLong(), 5);
        return id.toString();
    }

    private static void hex(StringBuilder out, long value, int digits) {
        for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
            out.append(Character.forDigit((int) (value >>> shift) & 0xf, 16));
        }
    }
}
