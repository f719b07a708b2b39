package dev.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.GatewayException;
import dev.caravan.Json;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.usage.Usage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * OpenAI's chat-completions wire, which is also the canonical shape: the body passes through with the model name
 * swapped for the deployment's, so fields the gateway does not model reach the upstream untouched.
 * Serves any OpenAI-compatible server (vLLM, Ollama, LM Studio) and Azure OpenAI, which differ only in URL and auth.
 */
public final class OpenAiProvider implements Provider {

    private static final String USER_AGENT = "caravan/0.1";
    private static final int MAX_BODY = 64 * 1024 * 1024;

    /** Where the OpenAI wire is spoken and how the credential travels: the one thing that differs between hosts. */
    public enum Host {
        /** OpenAI and every OpenAI-compatible server: {@code <baseUrl>/chat/completions}, a bearer token. */
        OPENAI,
        /** Azure OpenAI: the deployment in the path, an {@code api-version}, an {@code api-key} header. */
        AZURE
    }

    private final UpstreamClient http;
    private final Host host;

    public OpenAiProvider(UpstreamClient http) {
        this(http, Host.OPENAI);
    }

    public OpenAiProvider(UpstreamClient http, Host host) {
        this.http = http;
        this.host = host;
    }

    @Override
    public CompletableFuture<ChatResult> chat(ChatCall call) {
        ObjectNode body = upstreamBody(call);
        body.remove("stream");
        body.remove("stream_options");
        return whole(call, body, "chat/completions", answer -> answer.has("choices"), "a chat completion");
    }

    @Override
    public CompletableFuture<ChatResult> embeddings(ChatCall call) {
        return whole(call, upstreamBody(call), "embeddings", answer -> answer.path("data").isArray(), "an embeddings list");
    }

    /** One call whose JSON answer comes whole; {@code valid} tells a real answer from garbage. */
    private CompletableFuture<ChatResult> whole(ChatCall call, ObjectNode body, String operation,
                                               java.util.function.Predicate<ObjectNode> valid, String what) {
        DeploymentConfig deployment = call.deployment();
        CompletableFuture<ChatResult> result = new CompletableFuture<>();
        send(call, body, "application/json", operation, new WholeBody() {
            @Override
            void onBody(HttpResponse head, byte[] bytes) {
                Map<String, String> headers = UpstreamHeaders.allowed(head.headers());
                int status = head.status().code();
                if (status / 100 != 2) {
                    result.completeExceptionally(UpstreamErrors.fromStatus(deployment, status, bytes, headers));
                    return;
                }
                ObjectNode answer = Json.parseObjectOrNull(bytes);
                if (answer == null || !valid.test(answer)) {
                    result.completeExceptionally(UpstreamErrors.garbage(deployment, "a body that is not " + what));
                    return;
                }
                result.complete(new ChatResult(answer, headers, Usage.fromOpenAi(answer.get("usage"))));
            }

            @Override
            public void onError(Throwable error) {
                result.completeExceptionally(UpstreamErrors.fromThrowable(deployment, error));
            }
        });
        return result;
    }

    @Override
    public CompletableFuture<ChatStream> chatStream(ChatCall call) {
        DeploymentConfig deployment = call.deployment();
        ObjectNode body = upstreamBody(call);
        body.put("stream", true);
        // ask for usage so it is counted; the relay to the client hides it again if the client did not ask
        ((ObjectNode) body.with("stream_options")).put("include_usage", true);
        CompletableFuture<ChatStream> started = new CompletableFuture<>();
        send(call, body, "text/event-stream", "chat/completions", new StreamListener(deployment, started));
        return started;
    }

    private UpstreamClient.Call send(ChatCall call, ObjectNode body, String accept, String operation,
                                    UpstreamClient.Listener listener) {
        DeploymentConfig deployment = call.deployment();
        URI uri = host == Host.AZURE
                ? URI.create(deployment.provider().baseUrl() + "/openai/deployments/"
                        + java.net.URLEncoder.encode(deployment.model(), java.nio.charset.StandardCharsets.UTF_8)
                        + "/" + operation + "?api-version=" + deployment.provider().apiVersion())
                : URI.create(deployment.provider().baseUrl() + "/" + operation);
        HttpHeaders headers = new DefaultHttpHeaders();
        headers.set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        headers.set(HttpHeaderNames.ACCEPT, accept);
        String key = deployment.provider().apiKey();
        if (key != null) {
            if (host == Host.AZURE) {
                headers.set("api-key", key);
            } else {
                headers.set(HttpHeaderNames.AUTHORIZATION, "Bearer " + key);
            }
        }
        String userAgent = call.forwardHeaders().get("user-agent");
        headers.set(HttpHeaderNames.USER_AGENT, userAgent == null ? USER_AGENT : USER_AGENT + " " + userAgent);
        call.forwardHeaders().forEach((name, value) -> {
            if (!name.equals("user-agent")) {
                headers.set(name, value);
            }
        });
        return http.send(uri, HttpMethod.POST, headers, Json.bytes(body), call.timeout().toNanos(),
                deployment.provider().caFile(), listener);
    }

    private static ObjectNode upstreamBody(ChatCall call) {
        ObjectNode body = call.body().deepCopy();
        body.put("model", call.deployment().model());
        return body;
    }

    /** Collects a whole response body, bounded. */
    abstract static class WholeBody implements UpstreamClient.Listener {
        private HttpResponse head;
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        abstract void onBody(HttpResponse head, byte[] body);

        @Override
        public void onHead(HttpResponse head) {
            this.head = head;
        }

        @Override
        public void onContent(ByteBuf content) {
            if (bytes.size() + content.readableBytes() > MAX_BODY) {
                return; // the parse fails later and says so: a gateway is no place for unbounded bodies
            }
            bytes.writeBytes(ByteBufUtil.getBytes(content));
        }

        @Override
        public void onEnd() {
            onBody(head, bytes.toByteArray());
        }
    }

    /** Before the stream starts: the head decides between an error (body collected) and a stream. */
    static final class StreamListener implements UpstreamClient.Listener {
        private final DeploymentConfig deployment;
        private final CompletableFuture<ChatStream> started;
        private UpstreamClient.Call call;
        private HttpResponse head;
        private OpenAiSseStream stream;
        private final ByteArrayOutputStream errorBody = new ByteArrayOutputStream();

        StreamListener(DeploymentConfig deployment, CompletableFuture<ChatStream> started) {
            this.deployment = deployment;
            this.started = started;
        }

        @Override
        public void attached(UpstreamClient.Call call) {
            this.call = call;
        }

        @Override
        public boolean streaming() {
            return true;
        }

        @Override
        public void onHead(HttpResponse head) {
            this.head = head;
            String contentType = head.headers().get(HttpHeaderNames.CONTENT_TYPE, "");
            if (head.status().code() / 100 == 2 && contentType.startsWith("text/event-stream")) {
                stream = new OpenAiSseStream(deployment, UpstreamHeaders.allowed(head.headers()), call);
                started.complete(stream);
            }
        }

        @Override
        public void onContent(ByteBuf content) {
            if (stream != null) {
                stream.feed(content);
            } else if (errorBody.size() < MAX_BODY) {
                errorBody.writeBytes(ByteBufUtil.getBytes(content, content.readerIndex(),
                        Math.min(content.readableBytes(), MAX_BODY - errorBody.size())));
            }
        }

        @Override
        public void onEnd() {
            if (stream != null) {
                stream.upstreamEnded(null);
                return;
            }
            int status = head.status().code();
            if (status / 100 != 2) {
                started.completeExceptionally(UpstreamErrors.fromStatus(deployment, status, errorBody.toByteArray(),
                        UpstreamHeaders.allowed(head.headers())));
            } else {
                started.completeExceptionally(UpstreamErrors.garbage(deployment,
                        "'" + head.headers().get(HttpHeaderNames.CONTENT_TYPE, "no content type") + "' instead of an event stream"));
            }
        }

        @Override
        public void onError(Throwable error) {
            if (stream != null) {
                stream.upstreamEnded(error);
            } else {
                started.completeExceptionally(UpstreamErrors.fromThrowable(deployment, error));
            }
        }
    }

    /**
     * OpenAI's SSE events as canonical chunks. All state lives on the upstream connection's event loop; events wait
     * in a short queue until the client asks for them, and past {@link #HIGH_WATER} queued the connection stops reading.
     */
    static final class OpenAiSseStream extends BaseChatStream {
        private static final int HIGH_WATER = 32;
        private static final int MAX_LINE = 8 * 1024 * 1024;

        private final DeploymentConfig deployment;
        private final UpstreamClient.Call call;
        private final ArrayDeque<ObjectNode> ready = new ArrayDeque<>();
        private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);
        private final StringBuilder data = new StringBuilder();
        private long demand;
        private boolean paused;
        private boolean finishSeen;
        private boolean doneSeen;
        private boolean ended;
        private Throwable endError;

        OpenAiSseStream(DeploymentConfig deployment, Map<String, String> headers, UpstreamClient.Call call) {
            super(headers);
            this.deployment = deployment;
            this.call = call;
        }

        @Override
        public void request(long n) {
            call.runOnLoop(() -> {
                demand += n;
                drain();
            });
        }

        void feed(ByteBuf content) {
            if (!isOpen() || doneSeen) {
                return;
            }
            while (content.isReadable()) {
                byte b = content.readByte();
                if (b == '\n') {
                    onLine(line.toString(StandardCharsets.UTF_8));
                    line.reset();
                } else if (b != '\r') {
                    if (line.size() >= MAX_LINE) {
                        garbage("an event line longer than " + MAX_LINE + " bytes");
                        return;
                    }
                    line.write(b);
                }
            }
            drain();
        }

        private void onLine(String text) {
            if (doneSeen) {
                return;
            }
            if (text.isEmpty()) {
                dispatch();
            } else if (text.startsWith("data:")) {
                if (!data.isEmpty()) {
                    data.append('\n');
                }
                data.append(text, text.length() > 5 && text.charAt(5) == ' ' ? 6 : 5, text.length());
            }
            // "event:", "id:", "retry:" and ":" comments carry nothing on OpenAI's wire
        }

        private void dispatch() {
            if (data.isEmpty()) {
                return;
            }
            String event = data.toString();
            data.setLength(0);
            if (event.equals("[DONE]")) {
                doneSeen = true;
                return;
            }
            ObjectNode chunk = Json.parseObjectOrNull(event);
            if (chunk == null) {
                garbage("a stream event that is not JSON");
                return;
            }
            if (chunk.has("error")) {
                endWith(UpstreamErrors.fromStatus(deployment, 500, Json.bytes(chunk), Map.of()));
                return;
            }
            for (var choice : chunk.path("choices")) {
                if (choice.hasNonNull("finish_reason")) {
                    finishSeen = true;
                }
            }
            ready.add(chunk);
        }

        void upstreamEnded(Throwable error) {
            if (error == null) {
                onLine(""); // a last event without its blank line
            }
            ended = true;
            endError = error;
            drain();
        }

        private void drain() {
            while (demand > 0 && !ready.isEmpty() && isOpen()) {
                demand--;
                emit(ready.poll());
            }
            if (!isOpen()) {
                return;
            }
            if (ready.isEmpty() && (ended || doneSeen)) {
                if (doneSeen || (endError == null && finishSeen)) {
                    complete();
                    if (!ended) {
                        call.setReading(true); // read the rest so the connection returns to the pool
                    }
                } else {
                    fail(UpstreamErrors.badGatewayMidStream(deployment));
                }
                return;
            }
            boolean full = ready.size() >= HIGH_WATER;
            if (full != paused) {
                paused = full;
                call.setReading(!full);
            }
        }

        private void garbage(String what) {
            endWith(UpstreamErrors.garbage(deployment, what));
        }

        private void endWith(GatewayException error) {
            ready.clear();
            fail(error);
            call.cancel();
        }

        @Override
        protected void onCancel(boolean wasOpen) {
            if (wasOpen) {
                call.cancel();
            }
        }
    }
}
