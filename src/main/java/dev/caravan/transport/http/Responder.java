package dev.caravan.transport.http;

import dev.caravan.core.Dialect;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.PassThrough;
import dev.caravan.dialect.openai.CompletionsPassThrough;
import dev.caravan.dialect.openai.ResponsesPassThrough;
import dev.caravan.core.ClientRequest;
import dev.caravan.dialect.openai.OpenAiStreamEncoder;
import dev.caravan.dialect.StreamEncoder;
import dev.caravan.core.Json;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ModelConfig;
import dev.caravan.dialect.anthropic.AnthropicStreamEncoder;
import dev.caravan.stream.MeteredStream;
import dev.caravan.dialect.anthropic.MessagesTranslator;
import dev.caravan.dialect.openai.ResponsesAnswer;
import dev.caravan.dialect.openai.ResponsesRequest;
import dev.caravan.dialect.openai.ResponsesStreamEncoder;
import dev.caravan.provider.ChatResult;
import dev.caravan.usage.Pricing;
import org.apache.camel.Exchange;
import org.apache.camel.Message;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * The last step: the answer in the caller's wire shape, whole JSON, or the head of an SSE stream whose writer
 * (a {@link StreamRelay} with the client dialect's encoder) is made here, where the client is known. A request passed
 * through gets the upstream's own answer or events ({@link ResponsesPassThrough}, {@link CompletionsPassThrough}).
 */
public final class Responder {

    /** What a whole answer cost, decimal USD ({@code 0.000123}, {@code 0} when free); a stream says it in its usage. */
    public static final String COST_HEADER = "x-caravan-cost-usd";

    private final StreamRegistry streams;
    private final Duration keepAliveInterval;
    private final dev.caravan.dialect.openai.ResponseStore responses;

    public Responder(StreamRegistry streams, Duration keepAliveInterval) {
        this(streams, keepAliveInterval, new dev.caravan.dialect.openai.MemoryResponseStore(1, Duration.ofSeconds(1)));
    }

    /**
     * @param responses where {@code /v1/responses} answers are kept for a follow-up (when the request stores); its
     *                  {@code keep} returns at once, so the answer is never held for it
     */
    public Responder(StreamRegistry streams, Duration keepAliveInterval, dev.caravan.dialect.openai.ResponseStore responses) {
        this.streams = streams;
        this.keepAliveInterval = keepAliveInterval;
        this.responses = responses;
    }

    public void respond(Exchange exchange) {
        Message out = exchange.getMessage();
        Map<String, String> headers = caravanHeaders(exchange);
        MeteredStream stream = exchange.getProperty(ExchangeKeys.RELAY, MeteredStream.class);
        if (stream != null) {
            // upstream headers travel on the stream; only allow-listed ones were kept
            ClientRequest request = ClientRequest.of(exchange);
            stream.headers().forEach(headers::putIfAbsent);
            ObjectNode canonical = exchange.getProperty(ExchangeKeys.REQUEST, ObjectNode.class);
            // the stream's cost travels in its usage chunk: the answering deployment's price is known now
            DeploymentConfig deployment = exchange.getProperty(ExchangeKeys.DEPLOYMENT, DeploymentConfig.class);
            DeploymentConfig.Price price = deployment == null ? null : deployment.price();
            String textCompletion = exchange.getProperty(ExchangeKeys.TEXT_COMPLETION, String.class);
            StreamEncoder encoder = Dialect.speaksAnthropic(exchange) ? new AnthropicStreamEncoder()
                    : new OpenAiStreamEncoder(canonical.path("stream_options").path("include_usage").asBoolean(false),
                            usage -> Pricing.costNanos(usage, price));
            OpenAiStreamEncoder openAi = encoder instanceof OpenAiStreamEncoder o ? o : null;
            if (textCompletion != null) {
                encoder = new dev.caravan.dialect.openai.TextCompletionStreamEncoder((OpenAiStreamEncoder) encoder,
                        textCompletion.isEmpty() ? null : textCompletion);
            }
            ResponsesRequest.Context responsesCall = exchange.getProperty(ExchangeKeys.RESPONSES, ResponsesRequest.Context.class);
            PassThrough pass = exchange.getProperty(ExchangeKeys.PASS_THROUGH, PassThrough.class);
            if (pass != null && deployment != null && deployment.provider().servesOwn(pass.endpoint())) {
                // the upstream's own events, as it wrote them; a passed-through response is not kept here
                encoder = PassThrough.RESPONSES.equals(pass.endpoint())
                        ? new ResponsesPassThrough.Encoder(usage -> Pricing.costNanos(usage, price))
                        : new CompletionsPassThrough.Encoder(openAi);
            } else if (responsesCall != null) {
                String owner = ownerOf(exchange);
                encoder = new ResponsesStreamEncoder(responsesCall, ResponsesAnswer.newId("resp_"),
                        usage -> Pricing.costNanos(usage, price), response -> {
                            if (responsesCall.store()) {
                                responses.keep(owner, response, responsesCall.conversation());
                            }
                        });
            }
            ModelConfig model = exchange.getProperty(ExchangeKeys.MODEL, ModelConfig.class);
            StreamRelay relay = new StreamRelay(stream, encoder, model.streamIdleTimeout(), keepAliveInterval, streams);
            out.setBody(new SseResponse(relay, headers, request.keepAlive()));
            return;
        }
        ChatResult result = exchange.getProperty(ExchangeKeys.RESULT, ChatResult.class);
        result.headers().forEach(out::setHeader);
        headers.forEach(out::setHeader);
        // measured by the record route, which runs before this step for a whole answer; errors never reach here
        out.setHeader(COST_HEADER, Pricing.usd(exchange.getProperty(ExchangeKeys.COST_NANOS, 0L, Long.class)));
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, 200);
        boolean anthropic = Dialect.speaksAnthropic(exchange)
                && !ExchangeKeys.COUNT_TOKENS.equals(exchange.getProperty(ExchangeKeys.OPERATION));
        PassThrough pass = exchange.getProperty(ExchangeKeys.PASS_THROUGH, PassThrough.class);
        if (result.wire() != null && pass != null) {
            // the upstream's own answer, with the text a policy changed; a passed-through response is not kept here
            out.setBody(Json.bytes(PassThrough.RESPONSES.equals(pass.endpoint())
                    ? ResponsesPassThrough.answer(result.wire(), result.body())
                    : CompletionsPassThrough.answer(result.wire(), result.body())));
            return;
        }
        ResponsesRequest.Context responsesCall = exchange.getProperty(ExchangeKeys.RESPONSES, ResponsesRequest.Context.class);
        if (responsesCall != null) {
            ObjectNode response = ResponsesAnswer.fromChat(result.body(), responsesCall, ResponsesAnswer.newId("resp_"));
            if (responsesCall.store()) {
                responses.keep(ownerOf(exchange), response, responsesCall.conversation());
            }
            out.setBody(Json.bytes(response));
            return;
        }
        String textCompletion = exchange.getProperty(ExchangeKeys.TEXT_COMPLETION, String.class);
        out.setBody(Json.bytes(anthropic ? MessagesTranslator.toAnthropic(result.body())
                : textCompletion != null ? dev.caravan.dialect.openai.TextCompletions.fromChat(result.body(),
                        textCompletion.isEmpty() ? null : textCompletion)
                : result.body()));
    }

    /** The key (or token subject) a stored response belongs to. */
    static String ownerOf(Exchange exchange) {
        dev.caravan.auth.Principal p = exchange.getProperty(ExchangeKeys.PRINCIPAL, dev.caravan.auth.Principal.class);
        return p == null ? "" : p.keyId();
    }

    /**
     * Caravan's own response headers: request id, and what the call step did (deployment and its region, attempts,
     * fallback).
     */
    public static Map<String, String> caravanHeaders(Exchange exchange) {
        Map<String, String> headers = new HashMap<>();
        headers.put("x-caravan-request-id", exchange.getProperty(ExchangeKeys.REQUEST_ID, String.class));
        DeploymentConfig deployment = exchange.getProperty(ExchangeKeys.DEPLOYMENT, DeploymentConfig.class);
        if (deployment != null) {
            headers.put("x-caravan-deployment", deployment.id());
            if (deployment.region() != null) {
                headers.put("x-caravan-region", deployment.region());
            }
        }
        Integer attempts = exchange.getProperty(ExchangeKeys.ATTEMPT_COUNT, Integer.class);
        if (attempts != null) {
            headers.put("x-caravan-attempts", attempts.toString());
        }
        String fallback = exchange.getProperty(ExchangeKeys.FALLBACK, String.class);
        if (fallback != null) {
            headers.put("x-caravan-fallback", fallback);
        }
        @SuppressWarnings("unchecked")
        Map<String, String> policies = exchange.getProperty(ExchangeKeys.RESPONSE_HEADERS, Map.class);
        if (policies != null) {
            headers.putAll(policies); // x-ratelimit-*: on answers and refusals alike
        }
        return headers;
    }

    /** A JSON answer of the gateway's own (models list, health). */
    public static void json(Exchange exchange, int status, Object body) {
        Message out = exchange.getMessage();
        exchange.setProperty(ExchangeKeys.STATUS, status);
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, status);
        out.setBody(body instanceof com.fasterxml.jackson.databind.JsonNode n ? Json.bytes(n) : body);
    }
}
