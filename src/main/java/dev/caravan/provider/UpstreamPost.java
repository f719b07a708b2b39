package dev.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.config.DeploymentConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;

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
    // an error's words fit in far less; the rest of a larger error body is not read
    static final int MAX_ERROR_BODY = 64 * 1024;

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
                deployment.provider().caFile(), new WholeBody(http.maxAnswerBytes()) {
                    @Override
                    void onBody(HttpResponse head, byte[] bytes, int length) {
                        Map<String, String> allowed = UpstreamHeaders.allowed(head.headers());
                        int status = head.status().code();
                        if (status / 100 != 2) {
                            result.completeExceptionally(UpstreamErrors.fromStatus(deployment, status,
                                    java.util.Arrays.copyOf(bytes, length), allowed));
                            return;
                        }
                        ObjectNode answer = parseObject(bytes, length);
                        if (answer == null || !valid.test(answer)) {
                            result.completeExceptionally(UpstreamErrors.garbage(deployment, "a body that is not " + what));
                            return;
                        }
                        result.complete(new Answer(answer, allowed));
                    }

                    @Override
                    void onTooLarge(long limit) {
                        result.completeExceptionally(GatewayException.badGateway("upstream_response_too_large",
                                "Deployment '" + deployment.id() + "' answered with a body larger than " + limit
                                        + " bytes, the gateway's limit (caravan.maxUpstreamBodyBytes)."));
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

    /** The JSON object in the first {@code length} bytes, without copying them; null when it is not one. */
    private static ObjectNode parseObject(byte[] bytes, int length) {
        if (length == 0) {
            return null;
        }
        try {
            return Json.MAPPER.readTree(bytes, 0, length) instanceof ObjectNode o ? o : null;
        } catch (java.io.IOException e) {
            return null;
        }
    }

    /**
     * Collects a whole response body, bounded: a 2xx body past {@code maxBody} (declared or as it arrives) hangs up
     * and reports {@link #onTooLarge}; an error body keeps its first {@link #MAX_ERROR_BODY} bytes and hangs up.
     */
    abstract static class WholeBody implements UpstreamClient.Listener {
        private final long maxBody;
        private UpstreamClient.Call call;
        private HttpResponse head;
        private Bytes bytes;
        private int limit;
        private boolean over;

        WholeBody(long maxBody) {
            this.maxBody = maxBody;
        }

        /** The body is the first {@code length} bytes of {@code body}. */
        abstract void onBody(HttpResponse head, byte[] body, int length);

        abstract void onTooLarge(long limit);

        @Override
        public void attached(UpstreamClient.Call call) {
            this.call = call;
        }

        @Override
        public void onHead(HttpResponse head) {
            this.head = head;
            boolean ok = head.status().code() / 100 == 2;
            limit = (int) Math.min(ok ? maxBody : MAX_ERROR_BODY, Integer.MAX_VALUE - 8);
            long declared = HttpUtil.getContentLength(head, -1L);
            if (ok && declared > limit) {
                tooLarge(); // said so up front: not a byte of it is read
                return;
            }
            // sized by what arrives, not by what the head promises: a promise costs nothing to make
            bytes = new Bytes((int) Math.min(declared > 0 ? declared : 8192, 1 << 20), limit);
        }

        @Override
        public void onContent(ByteBuf content) {
            if (over) {
                return;
            }
            int room = limit - bytes.size();
            if (content.readableBytes() <= room) {
                bytes.append(content, content.readableBytes());
                return;
            }
            if (head.status().code() / 100 == 2) {
                tooLarge();
                return;
            }
            bytes.append(content, room); // an error's first words are enough
            over = true;
            call.cancel();
            onBody(head, bytes.array(), bytes.size());
        }

        private void tooLarge() {
            over = true;
            call.cancel(); // the listener hears nothing more
            onTooLarge(limit);
        }

        @Override
        public void onEnd() {
            if (!over) {
                onBody(head, bytes.array(), bytes.size());
            }
        }
    }

    /** A growable buffer, never past its limit, whose bytes are parsed where they lie (a large answer is not copied). */
    static final class Bytes {
        private final int limit;
        private byte[] buf;
        private int size;

        Bytes(int initial, int limit) {
            this.limit = limit;
            this.buf = new byte[Math.max(Math.min(initial, limit), 32)];
        }

        int size() {
            return size;
        }

        byte[] array() {
            return buf;
        }

        void append(ByteBuf from, int n) {
            if (size + n > buf.length) {
                buf = java.util.Arrays.copyOf(buf, (int) Math.min(limit, Math.max(2L * buf.length, (long) size + n)));
            }
            from.readBytes(buf, size, n);
            size += n;
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

        /** Only once the stream opened: an error body's silences are bounded like a whole answer's. */
        @Override
        public boolean streaming() {
            return stream != null;
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
            } else if (errorBody.size() + content.readableBytes() <= MAX_ERROR_BODY) {
                errorBody.writeBytes(ByteBufUtil.getBytes(content));
            } else {
                // an error's first words are enough: hang up and report it with them
                errorBody.writeBytes(ByteBufUtil.getBytes(content, content.readerIndex(), MAX_ERROR_BODY - errorBody.size()));
                call.cancel();
                onEnd();
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
