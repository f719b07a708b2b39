package dev.caravan.auth.oidc;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.core.Json;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Fetches issuers' discovery documents and JWKS over HTTP, never on an event loop: each fetch starts on a small pool
 * of its own (the client is built there, and DNS lookups happen there) and its answer is read there. A gateway that
 * never fetches has no thread and no client.
 */
final class KeyFetcher {

    /** A JWKS is a few KB (Entra ID's, among the largest, about 10 KB); a bigger answer is refused, not buffered. */
    static final int MAX_BODY_BYTES = 512 * 1024;
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);
    /** The whole fetch, body included: a caller waits at most this long for a 401 or its answer. */
    static final Duration FETCH_TIMEOUT = Duration.ofSeconds(5);

    // two threads: fetches are rare (at most one per issuer per refresh interval); the queue is bounded by them and
    // by the client's own steps; no thread until the first fetch, and idle ones end after 30 s
    private final ThreadPoolExecutor pool = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(1024), task -> {
                Thread t = new Thread(task, "caravan-oidc-keys");
                t.setDaemon(true);
                return t;
            });
    private HttpClient http; // guarded by this; made at the first fetch, on the pool

    KeyFetcher() {
        pool.allowCoreThreadTimeOut(true);
    }

    /** The {@code jwks_uri} of {@code issuer}'s {@code .well-known/openid-configuration}, which must name it. */
    CompletableFuture<URI> discover(String issuer) {
        String base = issuer.endsWith("/") ? issuer.substring(0, issuer.length() - 1) : issuer;
        return get(URI.create(base + "/.well-known/openid-configuration")).thenApply(body -> {
            JsonNode document = Json.parseObjectOrNull(body);
            if (document == null) {
                throw new IllegalStateException("the discovery document is not a JSON object");
            }
            if (!issuer.equals(document.path("issuer").asText(null))) {
                // OpenID Connect Discovery 1.0, 4.3: a document for another issuer is not this one's
                throw new IllegalStateException("the discovery document names another issuer");
            }
            String jwks = document.path("jwks_uri").asText("");
            URI uri;
            try {
                uri = URI.create(jwks);
            } catch (IllegalArgumentException e) {
                throw new IllegalStateException("the discovery document's jwks_uri is not a URL");
            }
            if (!("https".equals(uri.getScheme()) || "http".equals(uri.getScheme())) || uri.getHost() == null) {
                throw new IllegalStateException("the discovery document has no http(s) jwks_uri");
            }
            return uri;
        });
    }

    /** The signing keys published at {@code jwks}. */
    CompletableFuture<SigningKeys> keys(URI jwks) {
        return get(jwks).thenApply(SigningKeys::parse);
    }

    private CompletableFuture<String> get(URI uri) {
        return CompletableFuture.supplyAsync(() -> HttpRequest.newBuilder(uri).timeout(FETCH_TIMEOUT)
                        .header("Accept", "application/json").GET().build(), pool)
                .thenCompose(request -> {
                    CompletableFuture<HttpResponse<String>> sent = http().sendAsync(request, info -> new Limited());
                    // the request timeout covers the head only: this one covers a body that trickles, too, and
                    // cancels the exchange (the JDK aborts it when the stage it returned is cancelled)
                    return sent.copy().orTimeout(FETCH_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).whenComplete((r, e) -> {
                        if (e != null) {
                            sent.cancel(true);
                        }
                    });
                })
                // back on the pool: the JDK completes sendAsync's stage on its own default executor, which on a
                // machine of two cores is a new thread per task
                .thenApplyAsync(response -> {
                    if (response.statusCode() != 200) {
                        throw new IllegalStateException("HTTP " + response.statusCode() + " from " + uri);
                    }
                    return response.body();
                }, pool);
    }

    private synchronized HttpClient http() {
        if (http == null) {
            // two threads: fetches are rare (at most one per issuer per refresh interval); the queue is bounded by
            // them and by the client's own steps; idle threads end after 30 s
            http = HttpClient.newBuilder().executor(pool).connectTimeout(CONNECT_TIMEOUT)
                    .followRedirects(HttpClient.Redirect.NORMAL).build();
        }
        return http;
    }

    /** A body read whole, as text, up to {@link #MAX_BODY_BYTES}; past that the fetch fails and the body is dropped. */
    private static final class Limited implements HttpResponse.BodySubscriber<String> {
        private final CompletableFuture<String> body = new CompletableFuture<>();
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private Flow.Subscription subscription;

        @Override
        public CompletionStage<String> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            if (body.isDone()) {
                return; // refused as too large: the rest is not kept
            }
            for (ByteBuffer item : items) {
                if (bytes.size() + item.remaining() > MAX_BODY_BYTES) {
                    subscription.cancel();
                    body.completeExceptionally(new IOException("the answer is larger than " + MAX_BODY_BYTES + " bytes"));
                    return;
                }
                byte[] chunk = new byte[item.remaining()];
                item.get(chunk);
                bytes.write(chunk, 0, chunk.length);
            }
        }

        @Override
        public void onError(Throwable error) {
            body.completeExceptionally(error);
        }

        @Override
        public void onComplete() {
            body.complete(bytes.toString(StandardCharsets.UTF_8));
        }
    }
}
