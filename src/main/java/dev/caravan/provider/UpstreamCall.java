package dev.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ModelConfig;
import dev.caravan.http.ExchangeKeys;
import dev.caravan.http.Ingress;
import dev.caravan.http.StreamRegistry;
import dev.caravan.http.StreamRelay;
import org.apache.camel.AsyncCallback;
import org.apache.camel.Exchange;
import org.apache.camel.support.AsyncProcessorSupport;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * One attempt at the deployment the call step picked ({@code caravan.deployment}), used by every deployment route:
 * sends the canonical request and waits without holding a thread (an asynchronous Camel processor). A whole answer
 * lands in {@code caravan.result}; a stream whose upstream answered lands in {@code caravan.relay}, ready to be
 * relayed as it arrives; a failure is the exchange's exception, for the call step to judge.
 */
public final class UpstreamCall extends AsyncProcessorSupport {

    private final Providers providers;
    private final StreamRegistry streams;
    private final Duration keepAliveInterval;

    public UpstreamCall(Providers providers, StreamRegistry streams, Duration keepAliveInterval) {
        this.providers = providers;
        this.streams = streams;
        this.keepAliveInterval = keepAliveInterval;
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        try {
            DeploymentConfig deployment = exchange.getProperty(ExchangeKeys.DEPLOYMENT, DeploymentConfig.class);
            ModelConfig model = exchange.getProperty(ExchangeKeys.MODEL, ModelConfig.class);
            ObjectNode body = exchange.getProperty(ExchangeKeys.REQUEST, ObjectNode.class);
            Duration timeout = exchange.getProperty(ExchangeKeys.ATTEMPT_TIMEOUT, model.timeout(), Duration.class);
            ChatCall call = new ChatCall(exchange.getProperty(ExchangeKeys.REQUEST_ID, String.class), deployment, body,
                    Ingress.forwardHeaders(exchange), timeout);
            Provider provider = providers.forType(deployment.provider().type());
            long sent = System.nanoTime();
            boolean streaming = exchange.getProperty(ExchangeKeys.STREAMING, false, Boolean.class);
            boolean embeddings = ExchangeKeys.EMBEDDINGS.equals(exchange.getProperty(ExchangeKeys.OPERATION, String.class));
            CompletableFuture<?> done;
            if (streaming) {
                long start = exchange.getProperty(ExchangeKeys.START_NANOS, Long.class);
                done = provider.chatStream(call).thenAccept(stream -> exchange.setProperty(ExchangeKeys.RELAY,
                        new StreamRelay(stream, call.clientWantsStreamUsage(), model.streamIdleTimeout(),
                                keepAliveInterval, start, streams)));
            } else {
                done = (embeddings ? provider.embeddings(call) : provider.chat(call)).thenAccept(result -> {
                    exchange.setProperty(ExchangeKeys.RESULT, result);
                    exchange.setProperty(ExchangeKeys.USAGE, result.usage());
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
