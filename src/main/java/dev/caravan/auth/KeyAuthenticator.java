package dev.caravan.auth;

import dev.caravan.core.GatewayException;
import dev.caravan.config.ConfigHolder;
import dev.caravan.config.GatewayConfig;
import dev.caravan.config.KeyConfig;
import dev.caravan.core.ClientRequest;
import dev.caravan.core.ExchangeKeys;
import org.apache.camel.Exchange;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * Turns the caller's virtual key ({@code Authorization: Bearer} or {@code x-api-key}) into a {@link Principal}.
 * Keys are compared by SHA-256, so config holds no key; the master key from {@code CARAVAN_MASTER_KEY} is an admin.
 * A credential that is no key but a JWT of a configured issuer goes to {@link Tokens} ({@link #principalOf}).
 */
public final class KeyAuthenticator {

    private final ConfigHolder config;
    private final byte[] masterKeyHash;
    private volatile KeyUses uses = KeyUses.NONE;
    private volatile Tokens tokens = Tokens.NONE;

    public KeyAuthenticator(ConfigHolder config, String masterKey) {
        this.config = config;
        this.masterKeyHash = masterKey == null || masterKey.isBlank() ? null : sha256(masterKey.trim());
    }

    /** Who hears of key uses and knows the revoked keys (the run-time key directory, when there is a database). */
    public void keyUses(KeyUses uses) {
        this.uses = uses;
    }

    /** Who verifies the JWT access tokens callers may send instead of a key (auth/oidc). */
    public void tokens(Tokens tokens) {
        this.tokens = tokens;
    }

    /**
     * The authenticate step as a bean call: sets {@code caravan.principal} or answers 401. The routes use
     * {@link AuthenticateStep} instead, which also waits for a token's signing keys without holding a thread.
     */
    public void authenticate(Exchange exchange) {
        exchange.setProperty(ExchangeKeys.PRINCIPAL, principalFor(ClientRequest.of(exchange)));
    }

    /**
     * {@code /metrics} and {@code /health/deployments} on the API port: the master key or a key with role admin or
     * viewer (they name keys, teams and upstream models). On the management listener they need no key.
     */
    public void requireObserver(Exchange exchange) {
        if (Gate.OBSERVER.open(exchange)) {
            return;
        }
        exchange.setProperty(ExchangeKeys.PRINCIPAL, Gate.OBSERVER.admit(principalFor(ClientRequest.of(exchange))));
    }

    /** The admin API ({@code /admin/...}): the master key or a key with role admin. */
    public void requireAdmin(Exchange exchange) {
        exchange.setProperty(ExchangeKeys.PRINCIPAL, Gate.ADMIN.admit(principalFor(ClientRequest.of(exchange))));
    }

    /**
     * The caller, now: a virtual key, or a token whose issuer's signing keys are at hand. A token whose keys must be
     * fetched first cannot be answered without waiting: 503, try again (the routes use {@link #principalOf}).
     */
    public Principal principalFor(ClientRequest request) {
        CompletableFuture<Principal> principal = principalOf(request).toCompletableFuture();
        if (!principal.isDone()) {
            throw new GatewayException(503, "api_error", "signing_keys_pending", null,
                    "The token's issuer keys are being fetched; try again in a moment.", Map.of("Retry-After", "1"));
        }
        try {
            return principal.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof GatewayException g ? g : e;
        }
    }

    /**
     * The caller: a virtual key (or the master key) at once; a JWT access token of a configured issuer at once when
     * its signing keys are cached, else once they are fetched. Missing, unknown or revoked: 401 (thrown).
     */
    public CompletionStage<Principal> principalOf(ClientRequest request) {
        String key = presentedKey(request);
        if (key == null) {
            throw GatewayException.unauthorized(
                    "Missing API key: send it as 'Authorization: Bearer <key>' or in the 'x-api-key' header.");
        }
        byte[] hash = sha256(key);
        Principal principal = lookup(hash, true);
        if (principal != null) {
            return CompletableFuture.completedFuture(principal);
        }
        Tokens verifier = tokens;
        if (verifier.claims(key)) {
            return verifier.principalFor(key);
        }
        String revoked = uses.revoked(HexFormat.of().formatHex(hash));
        if (revoked != null) {
            uses.revokedUse(revoked, request);
            throw GatewayException.unauthorized("This API key has been revoked.");
        }
        throw GatewayException.unauthorized("Incorrect API key provided.");
    }

    /**
     * Whether these headers carry a key this gateway knows: the listener asks it from a request's head, before
     * reading a body; the authenticate step stays the authority.
     */
    public boolean knowsKey(String authorization, String apiKey) {
        String key = presentedKey(authorization, apiKey);
        try {
            // a revoked key counts as known here, so that the authenticate step records its use
            // a JWT of a configured issuer too: it is verified by the authenticate step, not here
            if (key == null) {
                return false;
            }
            byte[] hash = sha256(key);
            return lookup(hash, false) != null || tokens.claims(key) || uses.revoked(HexFormat.of().formatHex(hash)) != null;
        } catch (GatewayException expired) {
            return true; // a known key past its expiry: the authenticate step says so, clearly
        }
    }

    /** The principal of the key whose SHA-256 is {@code hash}, or null; {@code use}: the key authenticates a request. */
    private Principal lookup(byte[] hash, boolean use) {
        if (masterKeyHash != null && MessageDigest.isEqual(hash, masterKeyHash)) {
            return new Principal("master", null, "admin", null);
        }
        GatewayConfig current = config.get();
        KeyConfig found = current.keysBySha256().get(HexFormat.of().formatHex(hash));
        if (found == null) {
            return null;
        }
        if (found.expiresAt() != null && !java.time.Instant.now().isBefore(found.expiresAt())) {
            throw GatewayException.unauthorized("This API key expired at " + found.expiresAt() + ".");
        }
        if (use) {
            uses.used(found);
        }
        return new Principal(found.id(), found.team(), found.role(), allowedModels(found, current),
                allowedRegions(found, current));
    }

    /** The key's models narrowed by its team's: a team's list bounds every key in it. Null: every model. */
    private static java.util.Set<String> allowedModels(KeyConfig key, GatewayConfig config) {
        return narrowed(key.models(), config.team(key.team()).map(dev.caravan.config.TeamConfig::models).orElse(null));
    }

    /** The key's regions narrowed by its team's, like its models. Null: any region. */
    private static java.util.Set<String> allowedRegions(KeyConfig key, GatewayConfig config) {
        return narrowed(key.regions(), config.team(key.team()).map(dev.caravan.config.TeamConfig::regions).orElse(null));
    }

    /** What both allow (null: no bound). */
    private static java.util.Set<String> narrowed(java.util.Set<String> own, java.util.Set<String> team) {
        if (team == null || own == null) {
            return team == null ? own : team;
        }
        java.util.Set<String> both = new java.util.HashSet<>(own);
        both.retainAll(team);
        return java.util.Set.copyOf(both);
    }

    static String presentedKey(ClientRequest request) {
        return presentedKey(request.header("authorization"), request.header("x-api-key"));
    }

    static String presentedKey(String auth, String apiKey) {
        if (auth != null) {
            String trimmed = auth.trim();
            if (trimmed.regionMatches(true, 0, "Bearer ", 0, 7)) {
                String key = trimmed.substring(7).trim();
                return key.isEmpty() ? null : key;
            }
        }
        return apiKey == null || apiKey.isBlank() ? null : apiKey.trim();
    }

    public static byte[] sha256(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
