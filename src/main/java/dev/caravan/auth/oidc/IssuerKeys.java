package dev.caravan.auth.oidc;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;

/**
 * One issuer's signing keys, cached. A token whose key is cached is verified at once; an unknown {@code kid} (a
 * rotation) asks for a refresh, and so does a set older than {@link #MAX_AGE} (a key withdrawn by the issuer stops
 * being trusted; the old set serves meanwhile). Refreshes are rate-limited: at most one fetch starts per
 * {@code minInterval}, and every caller shares the fetch in flight, so tokens with made-up key ids cannot make the
 * gateway hammer the IdP: they get 401 from the keys at hand. A failed fetch keeps the keys it had.
 */
final class IssuerKeys {

    private static final Logger LOG = LoggerFactory.getLogger(IssuerKeys.class);

    /** A key set older than this is fetched again in the background (a withdrawn key stops working within it). */
    static final Duration MAX_AGE = Duration.ofMinutes(10);

    private final String issuer;
    private final URI configuredJwks;   // null: read from the discovery document
    private final KeyFetcher fetcher;
    private final long minIntervalNanos;
    private final LongSupplier nanoClock;

    private volatile SigningKeys keys;  // null until a fetch succeeds
    private volatile long fetchedAt;    // nanoClock of the fetch that gave keys
    private volatile URI discoveredJwks;
    private CompletableFuture<SigningKeys> inFlight; // guarded by this
    private boolean attempted;                      // guarded by this
    private long lastAttempt;                       // guarded by this: when the last fetch started

    IssuerKeys(String issuer, URI jwks, KeyFetcher fetcher, Duration minInterval, LongSupplier nanoClock) {
        this.issuer = issuer;
        this.configuredJwks = jwks;
        this.fetcher = fetcher;
        this.minIntervalNanos = minInterval.toNanos();
        this.nanoClock = nanoClock;
    }

    /** The keys as cached, or null before the first fetch succeeds; an old set is refreshed in the background. */
    SigningKeys cached() {
        SigningKeys current = keys;
        if (current != null && nanoClock.getAsLong() - fetchedAt > MAX_AGE.toNanos()) {
            refresh(); // the request goes on with the keys at hand
        }
        return current;
    }

    /**
     * The keys after at most one more fetch: the fetch in flight if there is one, else a new one if none started
     * within the refresh interval, else the keys at hand (null: none yet). Completes with the keys at hand when a
     * fetch fails; never completes exceptionally.
     */
    synchronized CompletableFuture<SigningKeys> refresh() {
        if (inFlight != null) {
            return inFlight;
        }
        long now = nanoClock.getAsLong();
        if (attempted && now - lastAttempt < minIntervalNanos) {
            return CompletableFuture.completedFuture(keys);
        }
        attempted = true;
        lastAttempt = now;
        CompletableFuture<SigningKeys> shared = new CompletableFuture<>();
        inFlight = shared;
        CompletableFuture<SigningKeys> fetch;
        try {
            fetch = jwksUri().thenCompose(fetcher::keys);
        } catch (RuntimeException e) { // the pool refused the task: a failed fetch like any other
            fetch = CompletableFuture.failedFuture(e);
        }
        fetch.whenComplete((fresh, error) -> {
            SigningKeys result = landed(fresh, error);
            synchronized (this) {
                if (inFlight == shared) {
                    inFlight = null;
                }
            }
            shared.complete(result);
        });
        return shared;
    }

    private CompletableFuture<URI> jwksUri() {
        if (configuredJwks != null) {
            return CompletableFuture.completedFuture(configuredJwks);
        }
        URI known = discoveredJwks;
        if (known != null) {
            return CompletableFuture.completedFuture(known);
        }
        // discovered once per issuer (until its config changes); a failed discovery is tried again at the next fetch
        return fetcher.discover(issuer).thenApply(uri -> {
            discoveredJwks = uri;
            return uri;
        });
    }

    private SigningKeys landed(SigningKeys fresh, Throwable error) {
        SigningKeys previous = keys;
        if (fresh != null) {
            keys = fresh;
            fetchedAt = nanoClock.getAsLong();
            if (previous == null || !previous.kids().equals(fresh.kids())) {
                LOG.info("OIDC issuer {}: {} signing key(s) {}", issuer, fresh.size(), fresh.kids());
            }
            return fresh;
        }
        Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                ? error.getCause() : error;
        LOG.warn("OIDC issuer {}: its signing keys could not be fetched from {} ({}); next attempt in {} ms at the earliest{}",
                issuer, configuredJwks != null ? configuredJwks : discoveredJwks != null ? discoveredJwks : "discovery",
                cause, minIntervalNanos / 1_000_000L, previous == null ? "" : "; the keys fetched before still serve");
        return previous;
    }
}
