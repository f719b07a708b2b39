package dev.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.Json;
import dev.caravan.config.DeploymentConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;

/**
 * The one HTTP exchange every adapter makes: a JSON POST answered by a whole JSON body or by server-sent events.
 * Adapters differ in URL, credential header and translation, never in how bytes travel.
 */
final class UpstreamPost {

    private static final String USER_AGENT = "caravan/0.1";
    private static final int MAX_BODY = 64 * 1024 * 1024;

    /** A 2xx JSON answer and its allow-listed headers. */
    record Answer(ObjectNode body, Map<String, String> headers) {
    }

    /** Opens the adapter's stream translator once the upstream has answered 2xx with an event stream. */
    interface StreamFactory {
        SseChatStream open(Map<String, String> headers, UpstreamClient.Call call);
    }

    private final UpstreamClient http;

    UpstreamPost(UpstreamClient http) {
        this.http = http;
    }

    /** JSON content, the client's allow-listed headers, and Caravan's user agent before the client's. */
    static HttpHeaders headers(ChatCall call, String accept) {
        HttpHeaders headers = new DefaultHttpHeaders();
        headers.set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        headers.set(HttpHeaderNames.ACCEPT, accept);
        String userAgent = call.forwardHeaders().get("user-agent");
        headers.set(HttpHeaderNames.USER_AGENT, userAgent == null ? USER_AGENT : USER_AGENT + " " + userAgent);
        call.forwardHeaders().forEach((name, value) -> {
            if (!name.equals("user-agent")) {
                headers.set(name, value);
            }
        });
        return headers;
    }

    /** A whole JSON answer; {@code valid} tells a real answer from garbage, {@code what} names it in the error. */
    CompletableFuture<Answer> json(ChatCall call, URI uri, HttpHeaders headers, ObjectNode body,
                                   Predicate<ObjectNode> valid, String what) {
        DeploymentConfig deployment = call.deployment();
        CompletableFuture<Answer> result = new CompletableFuture<>();
        http.send(uri, HttpMethod.POST, headers, Json.bytes(body), call.timeout().toNanos(),
                deployment.provider().caFile(), new WholeBody() {
                    @Override
                    void onBody(HttpResponse head, byte[] bytes) {
                        Map<String, String> allowed = UpstreamHeaders.allowed(head.headers());
                        int status = head.status().code();
                        if (status / 100 != 2) {
                            result.completeExceptionally(UpstreamErrors.fromStatus(deployment, status, bytes, allowed));
                            return;
                        }
                        ObjectNode answer = Json.parseObjectOrNull(bytes);
                        if (answer == null || !valid.test(answer)) {
                            result.completeExceptionally(UpstreamErrors.garbage(deployment, "a body that is not " + what));
                            return;
                        }
                        result.complete(new Answer(answer, allowed));
                    }

                    @Override
                    public void onError(Throwable error) {
                        result.completeExceptionally(UpstreamErrors.fromThrowable(deployment, error));
                    }
                });
        return result;
    }

    /** A stream: completes when the upstream answers 2xx with {@code text/event-stream}, else with its error. */
    CompletableFuture<ChatStream> stream(ChatCall call, URI uri, HttpHeaders headers, ObjectNode body,
                                         StreamFactory factory) {
        CompletableFuture<ChatStream> started = new CompletableFuture<>();
        http.send(uri, HttpMethod.POST, headers, Json.bytes(body), call.timeout().toNanos(),
                call.deployment().provider().caFile(), new StreamListener(call.deployment(), started, factory));
        return started;
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
        private final StreamFactory factory;
        private UpstreamClient.Call call;
        private HttpResponse head;
        private SseChatStream stream;
        private final ByteArrayOutputStream errorBody = new ByteArrayOutputStream();

        StreamListener(DeploymentConfig deployment, CompletableFuture<ChatStream> started, StreamFactory factory) {
            this.deployment = deployment;
            this.started = started;
            this.factory = factory;
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
                stream = factory.open(UpstreamHeaders.allowed(head.headers()), call);
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
}
