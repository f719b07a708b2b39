package dev.caravan.routing;

import dev.caravan.usage.CanonicalText;
import dev.caravan.provider.ChatCall;
import dev.caravan.provider.ChatResult;
import dev.caravan.provider.Provider;
import dev.caravan.provider.Providers;
import dev.caravan.provider.UpstreamErrors;

import dev.caravan.core.HeaderAllowList;
import dev.caravan.core.ClientRequest;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ModelConfig;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.PassThrough;
import dev.caravan.stream.MeteredStream;
import dev.caravan.usage.TokenCounter;
import dev.caravan.usage.Usage;
import dev.caravan.work.CpuPool;
import dev.caravan.core.Json;
import java.util.Map;
import org.apache.camel.AsyncCallback;
import org.apache.camel.Exchange;
import org.apache.camel.support.AsyncProcessorSupport;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * One attempt at the deployment the call step picked ({@code caravan.deployment}), used by every deployment route:
 * sends the canonical request and waits without holding a thread (an asynchronous Camel processor). A whole answer
 * lands in {@code caravan.result}; a stream whose upstream answered lands in {@code caravan.relay} as a
 * {@link MeteredStream}, for the responder to hand to the client's writer; a failure is the exchange's exception,
 * for the call step to judge. A request passed through ({@link PassThrough}) goes as the client wrote it to each
 * deployment that serves its endpoint. Nothing here knows the client's wire format.
 */
public final class UpstreamCall extends AsyncProcessorSupport {

    private final Providers providers;
    private final CpuPool cpu;

    /** @param cpu where token counts run, off the event loops */
    public UpstreamCall(Providers providers, CpuPool cpu) {
        this.providers = providers;
        this.cpu = cpu;
    }

    /**
     * A whole answer whose provider reported no usage: counted here (tokenizing at most {@code exactChars}
     * characters of each text), and marked as an estimate in the body too.
     */
    static ChatResult estimated(ChatResult result, ObjectNode request, String model, boolean embeddings, int exactChars) {
        Usage usage;
        if (embeddings) {
            long tokens = TokenCounter.embeddingTokens(request, model, exactChars);
            usage = TokenCounter.estimate(tokens, 0);
        } else {
            usage = TokenCounter.estimate(TokenCounter.promptTokens(request, model, exactChars),
                    TokenCounter.count(CanonicalText.generated(result.body()), model, exactChars));
        }
        ObjectNode body = result.body();
        body.set("usage", embeddings ? usage.toOpenAi().without(java.util.List.of("completion_tokens")) : usage.toOpenAi());
        return new ChatResult(body, result.headers(), usage, result.wire());
    }

    private record Count(long tokens, boolean estimated) {
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        try {
            DeploymentConfig deployment = exchange.getProperty(ExchangeKeys.DEPLOYMENT, DeploymentConfig.class);
            ModelConfig model = exchange.getProperty(ExchangeKeys.MODEL, ModelConfig.class);
            ObjectNode body = exchange.getProperty(ExchangeKeys.REQUEST, ObjectNode.class);
            Duration timeout = exchange.getProperty(ExchangeKeys.ATTEMPT_TIMEOUT, model.timeout(), Duration.class);
            PassThrough pass = exchange.getProperty(ExchangeKeys.PASS_THROUGH, PassThrough.class);
            // a deployment that serves the endpoint gets the client's own body; the others the canonical request
            String passedTo = pass != null && deployment.provider().servesOwn(pass.endpoint()) ? pass.endpoint() : null;
            ChatCall call = new ChatCall(exchange.getProperty(ExchangeKeys.REQUEST_ID, String.class), deployment,
                    passedTo != null ? pass.body() : body, HeaderAllowList.toUpstream(ClientRequest.of(exchange)), timeout);
            Provider provider = providers.forType(deployment.provider().type());
            long sent = System.nanoTime();
            boolean streaming = exchange.getProperty(ExchangeKeys.STREAMING, false, Boolean.class);
            String operation = exchange.getProperty(ExchangeKeys.OPERATION, String.class);
            String upstreamModel = deployment.model();
            CompletableFuture<?> done;
            if (streaming) {
                long start = exchange.getProperty(ExchangeKeys.START_NANOS, Long.class);
                // the stream asks for an estimate when it ends, on its event loop: a bounded count, extrapolated
                done = (passedTo != null ? provider.passThroughStream(call, passedTo) : provider.chatStream(call)).thenAccept(stream -> exchange.setProperty(ExchangeKeys.RELAY,
                        new MeteredStream(stream, text -> TokenCounter.estimate(
                                TokenCounter.promptTokens(body, upstreamModel, TokenCounter.ON_LOOP_CHARS),
                                TokenCounter.count(text.toString(), upstreamModel, TokenCounter.ON_LOOP_CHARS)), start)));
            } else if (ExchangeKeys.COUNT_TOKENS.equals(operation)) {
                // the count is the answer: counted whole on the pool, and a full pool is a 503 the client may retry
                done = provider.countTokens(call).thenCompose(tokens -> tokens >= 0
                        ? CompletableFuture.completedFuture(new Count(tokens, false))
                        : cpu.submit(() -> new Count(TokenCounter.promptTokens(body, upstreamModel), true))).thenAccept(count -> {
                    ObjectNode answer = Json.object().put("input_tokens", count.tokens());
                    if (count.estimated()) {
                        answer.put("caravan_estimated", true);
                    }
                    exchange.setProperty(ExchangeKeys.RESULT, new ChatResult(answer, Map.of(), Usage.NONE));
                });
            } else {
                // an answer without usage is counted on the pool; with the pool full, a bounded count here, since the
                // upstream has answered (and billed) and the estimate must not cost the client its answer
                boolean embeddings = ExchangeKeys.EMBEDDINGS.equals(operation);
                done = (embeddings ? provider.embeddings(call) : passedTo != null ? provider.passThrough(call, passedTo)
                        : provider.chat(call)).thenCompose(result -> result.usage().isEmpty()
                        ? cpu.submitOr(() -> estimated(result, body, upstreamModel, embeddings, TokenCounter.MAX_EXACT_CHARS),
                                () -> estimated(result, body, upstreamModel, embeddings, TokenCounter.ON_LOOP_CHARS))
                        : CompletableFuture.completedFuture(result)).thenAccept(counted -> {
                    exchange.setProperty(ExchangeKeys.RESULT, counted);
                    exchange.setProperty(ExchangeKeys.USAGE, counted.usage());
                });
            }
            done.whenComplete((ignored, failure) -> {
                long upstream = exchange.getProperty(ExchangeKeys.UPSTREAM_NANOS, 0L, Long.class);
                exchange.setProperty(ExchangeKeys.UPSTREAM_NANOS, upstream + System.nanoTime() - sent);
                if (failure != null) {
                    exchange.setException(UpstreamErrors.fromThrowable(deployment, failure));
                } else {
                    exchange.setProperty(ExchangeKeys.STATUS, 200);
                }
                callback.done(false);
            });
            return false;
        } catch (RuntimeException e) {
            exchange.setException(e);
            callback.done(true);
            return true;
        }
    }
}
