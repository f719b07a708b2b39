package dev.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.GatewayException;
import dev.caravan.Json;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.usage.Usage;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandler;
import java.net.http.HttpResponse.BodySubscribers;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;

/**
 * OpenAI's chat-completions wire, which is also the canonical shape: the body passes through with the model name
 * swapped for the deployment's, so fields the gateway does not model reach the upstream untouched.
 * Serves any OpenAI-compatible server (vLLM, Ollama, LM Studio).
 */
public final class OpenAiProvider implements Provider {

    private static final String USER_AGENT = "caravan/0.1";

    private final HttpClient http;

    public OpenAiProvider(UpstreamHttp upstream) {
        this.http = upstream.client();
    }

    @Override
    public CompletableFuture<ChatResult> chat(ChatCall call) {
        DeploymentConfig deployment = call.deployment();
        ObjectNode body = upstreamBody(call);
        body.remove("stream");
        body.remove("stream_options");
        HttpRequest request = request(call, body, "application/json");
        return http.sendAsync(request, HttpResponse.BodyHandlers.ofByteArray())
                .handle((response, failure) -> {
                    if (failure != null) {
                        throw UpstreamErrors.fromThrowable(deployment, failure);
                    }
                    Map<String, String> headers = UpstreamHttp.allowedHeaders(response.headers());
                    if (response.statusCode() / 100 != 2) {
                        throw UpstreamErrors.fromStatus(deployment, response.statusCode(), response.body(), headers);
                    }
                    ObjectNode answer = Json.parseObjectOrNull(response.body());
                    if (answer == null || !answer.has("choices")) {
                        throw UpstreamErrors.garbage(deployment, "a body that is not a chat completion");
                    }
                    return new ChatResult(answer, headers, Usage.fromOpenAi(answer.get("usage")));
                });
    }

    @Override
    public CompletableFuture<ChatStream> chatStream(ChatCall call) {
        DeploymentConfig deployment = call.deployment();
        ObjectNode body = upstreamBody(call);
        body.put("stream", true);
        // ask for usage so it is counted; the relay to the client hides it again if the client did not ask
        ((ObjectNode) body.with("stream_options")).put("include_usage", true);
        HttpRequest request = request(call, body, "text/event-stream");

        CompletableFuture<ChatStream> started = new CompletableFuture<>();
        BodyHandler<Void> handler = info -> {
            Map<String, String> headers = UpstreamHttp.allowedHeaders(info.headers());
            if (info.statusCode() / 100 != 2) {
                return BodySubscribers.mapping(BodySubscribers.ofByteArray(), bytes -> {
                    started.completeExceptionally(UpstreamErrors.fromStatus(deployment, info.statusCode(), bytes, headers));
                    return null;
                });
            }
            String contentType = info.headers().firstValue("content-type").orElse("");
            if (!contentType.startsWith("text/event-stream")) {
                started.completeExceptionally(UpstreamErrors.garbage(deployment, "'" + contentType + "' instead of an event stream"));
                return BodySubscribers.discarding();
            }
            OpenAiSseStream stream = new OpenAiSseStream(deployment, headers);
            started.complete(stream);
            return BodySubscribers.fromLineSubscriber(stream);
        };
        http.sendAsync(request, handler).whenComplete((r, failure) -> {
            if (failure != null && !started.isDone()) {
                started.completeExceptionally(UpstreamErrors.fromThrowable(deployment, failure));
            }
        });
        return started;
    }

    private static ObjectNode upstreamBody(ChatCall call) {
        ObjectNode body = call.body().deepCopy();
        body.put("model", call.deployment().model());
        return body;
    }

    private static HttpRequest request(ChatCall call, ObjectNode body, String accept) {
        DeploymentConfig deployment = call.deployment();
        URI uri = URI.create(deployment.provider().baseUrl() + "/chat/completions");
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri)
                .timeout(call.timeout())
                .header("Content-Type", "application/json")
                .header("Accept", accept)
                .POST(HttpRequest.BodyPublishers.ofByteArray(Json.bytes(body)));
        // plain http cannot negotiate HTTP/2 without an Upgrade dance some servers reject
        if ("http".equalsIgnoreCase(uri.getScheme())) {
            builder.version(HttpClient.Version.HTTP_1_1);
        }
        String key = deployment.provider().apiKey();
        if (key != null) {
            builder.header("Authorization", "Bearer " + key);
        }
        String userAgent = call.forwardHeaders().get("user-agent");
        builder.header("User-Agent", userAgent == null ? USER_AGENT : USER_AGENT + " " + userAgent);
        call.forwardHeaders().forEach((name, value) -> {
            if (!name.equals("user-agent")) {
                builder.header(name, value);
            }
        });
        return builder.build();
    }

    /** Reads OpenAI's SSE lines as the client asks for chunks: one line requested at a time. */
    static final class OpenAiSseStream extends BaseChatStream implements Flow.Subscriber<String> {

        private final DeploymentConfig deployment;
        private final StringBuilder data = new StringBuilder();
        private Flow.Subscription subscription;
        private long demand;
        private boolean lineRequested;
        private boolean finishSeen;

        OpenAiSseStream(DeploymentConfig deployment, Map<String, String> headers) {
            super(headers);
            this.deployment = deployment;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            synchronized (this) {
                subscription = s;
            }
            if (cancelled) {
                s.cancel();
            } else {
                pull();
            }
        }

        @Override
        public void request(long n) {
            synchronized (this) {
                demand += n;
            }
            pull();
        }

        private void pull() {
            Flow.Subscription s;
            synchronized (this) {
                if (subscription == null || demand <= 0 || lineRequested || !isOpen()) {
                    return;
                }
                lineRequested = true;
                s = subscription;
            }
            s.request(1);
        }

        @Override
        public void onNext(String line) {
            synchronized (this) {
                lineRequested = false;
            }
            if (!isOpen()) {
                return;
            }
            if (line.isEmpty()) {
                dispatch();
            } else if (line.startsWith("data:")) {
                if (!data.isEmpty()) {
                    data.append('\n');
                }
                data.append(line, line.length() > 5 && line.charAt(5) == ' ' ? 6 : 5, line.length());
            }
            // "event:", "id:", "retry:" and ":" comments carry nothing for OpenAI's wire
            pull();
        }

        private void dispatch() {
            if (data.isEmpty()) {
                return;
            }
            String event = data.toString();
            data.setLength(0);
            if (event.equals("[DONE]")) {
                complete();
                drain();
                return;
            }
            ObjectNode chunk = Json.parseObjectOrNull(event);
            if (chunk == null) {
                fail(UpstreamErrors.garbage(deployment, "a stream event that is not JSON"));
                cancelUpstream();
                return;
            }
            if (chunk.has("error")) {
                byte[] bytes = Json.bytes(chunk);
                GatewayException e = UpstreamErrors.fromStatus(deployment, 500, bytes, Map.of());
                fail(e);
                cancelUpstream();
                return;
            }
            for (var choice : chunk.path("choices")) {
                if (choice.hasNonNull("finish_reason")) {
                    finishSeen = true;
                }
            }
            synchronized (this) {
                demand--;
            }
            emit(chunk);
        }

        @Override
        public void onError(Throwable throwable) {
            if (!isOpen()) {
                return;
            }
            fail(UpstreamErrors.badGatewayMidStream(deployment));
        }

        @Override
        public void onComplete() {
            if (!isOpen()) {
                return;
            }
            dispatch();
            if (finishSeen) {
                complete();
            } else {
                fail(UpstreamErrors.badGatewayMidStream(deployment));
            }
        }

        @Override
        protected void onCancel(boolean wasOpen) {
            if (wasOpen) {
                cancelUpstream();
            }
        }

        /** Reads what follows [DONE] to the end of the body, so the connection goes back to the pool. */
        private void drain() {
            Flow.Subscription s;
            synchronized (this) {
                s = subscription;
            }
            if (s != null) {
                s.request(Long.MAX_VALUE);
            }
        }

        private void cancelUpstream() {
            Flow.Subscription s;
            synchronized (this) {
                s = subscription;
            }
            if (s != null) {
                s.cancel();
            }
        }
    }
}
