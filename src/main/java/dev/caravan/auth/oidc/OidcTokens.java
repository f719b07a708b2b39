package dev.caravan.auth.oidc;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import dev.caravan.auth.Principal;
import dev.caravan.auth.Tokens;
import dev.caravan.config.AuthConfig;
import dev.caravan.config.ConfigHolder;
import dev.caravan.config.GatewayConfig;
import dev.caravan.core.GatewayException;

import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;

/**
 * JWT access tokens of the issuers in {@code auth.oidc} ({@link ConfigHolder#get()}, so a reload applies at the next
 * request): the issuer is picked by the token's unverified {@code iss}, then the token must be signed with an
 * asymmetric algorithm by one of that issuer's keys, unexpired, in force, and for one of its audiences. Every
 * refusal is a 401 that says what was wrong and quotes nothing of the token.
 */
public final class OidcTokens implements Tokens {

    private final ConfigHolder config;
    private final KeyFetcher fetcher = new KeyFetcher();
    private final Duration minRefreshInterval;
    private final Clock clock;
    // issuer + JWKS location -> its keys. Pruned to the configured issuers each time the auth config changes, so it
    // holds one entry per issuer of the live config (and, briefly, of the one before it)
    private final ConcurrentHashMap<String, IssuerKeys> keys = new ConcurrentHashMap<>();
    private volatile AuthConfig prunedTo;

    /** @param minRefreshInterval at most one JWKS fetch per issuer in this time (unknown key ids, failures) */
    public OidcTokens(ConfigHolder config, Duration minRefreshInterval) {
        this(config, minRefreshInterval, Clock.systemUTC());
    }

    OidcTokens(ConfigHolder config, Duration minRefreshInterval, Clock clock) {
        this.config = config;
        this.minRefreshInterval = minRefreshInterval;
        this.clock = clock;
    }

    @Override
    public boolean claims(String credential) {
        return !config.get().auth().oidc().isEmpty() && JwtShape.looksLikeJwt(credential);
    }

    @Override
    public CompletionStage<Principal> principalFor(String token) {
        GatewayConfig current = config.get();
        SignedJWT jwt = signed(token);
        JWTClaimsSet claims;
        try {
            claims = jwt.getJWTClaimsSet();
        } catch (ParseException e) {
            throw GatewayException.unauthorized("The token's claims are not a valid JWT claims set.");
        }
        AuthConfig.Oidc issuer = issuer(current.auth(), claims.getIssuer());
        IssuerKeys issuerKeys = keysOf(current.auth(), issuer);
        SigningKeys cached = issuerKeys.cached();
        JWSVerifier verifier = cached == null ? null : cached.find(jwt.getHeader());
        if (verifier != null) {
            return CompletableFuture.completedFuture(accept(jwt, claims, issuer, verifier, current));
        }
        // no keys yet, or a kid not among them (a rotation, or made up): one shared, rate-limited refresh
        return issuerKeys.refresh().thenApply(fresh -> {
            if (fresh == null) {
                throw GatewayException.unauthorized(
                        "The token's issuer's signing keys could not be fetched; try again shortly.");
            }
            JWSVerifier found = fresh.find(jwt.getHeader());
            if (found == null) {
                throw GatewayException.unauthorized(jwt.getHeader().getKeyID() == null
                        ? "The token names no key id (kid) and its issuer has no single key for its algorithm."
                        : "The token's key id (kid) is not among its issuer's signing keys.");
            }
            return accept(jwt, claims, issuer, found, current);
        });
    }

    /** The token as a JWS with an accepted algorithm; 401 for anything else. */
    private static SignedJWT signed(String token) {
        JWT jwt;
        try {
            jwt = JWTParser.parse(token);
        } catch (ParseException e) {
            throw GatewayException.unauthorized("The token is not a well-formed JWT.");
        }
        if (jwt instanceof PlainJWT) {
            throw GatewayException.unauthorized("Unsigned tokens (alg: none) are refused.");
        }
        if (!(jwt instanceof SignedJWT signed)) {
            throw GatewayException.unauthorized("Encrypted tokens (JWE) are not accepted; send a signed access token.");
        }
        JWSAlgorithm alg = signed.getHeader().getAlgorithm();
        if (JWSAlgorithm.Family.HMAC_SHA.contains(alg)) {
            // the issuer's JWKS is public: a shared secret could be anyone's, so it proves nothing
            throw GatewayException.unauthorized("Algorithm " + alg.getName()
                    + " is refused: tokens must carry an asymmetric signature (RS*, PS* or ES*).");
        }
        if (!SigningKeys.ACCEPTED.contains(alg)) {
            throw GatewayException.unauthorized("Algorithm '" + GatewayException.quote(alg.getName())
                    + "' is not supported; tokens must be signed with RS*, PS* or ES*.");
        }
        return signed;
    }

    private static AuthConfig.Oidc issuer(AuthConfig auth, String iss) {
        if (iss == null) {
            throw GatewayException.unauthorized("The token names no issuer (iss).");
        }
        for (AuthConfig.Oidc o : auth.oidc()) {
            if (o.issuer().equals(iss)) {
                return o;
            }
        }
        throw GatewayException.unauthorized("The token's issuer (iss) is not one this gateway trusts.");
    }

    /** The signature first (so a forged token learns nothing of the checks after it), then time and audience. */
    private Principal accept(SignedJWT jwt, JWTClaimsSet claims, AuthConfig.Oidc issuer, JWSVerifier verifier,
                             GatewayConfig current) {
        boolean valid;
        try {
            valid = jwt.verify(verifier);
        } catch (JOSEException e) {
            valid = false;
        }
        if (!valid) {
            throw GatewayException.unauthorized("The token's signature does not verify with its issuer's key.");
        }
        Instant now = clock.instant();
        Date exp = claims.getExpirationTime();
        if (exp == null) {
            throw GatewayException.unauthorized("The token has no expiry (exp); only expiring tokens are accepted.");
        }
        if (now.isAfter(exp.toInstant().plus(issuer.leeway()))) {
            throw GatewayException.unauthorized("The token expired at " + exp.toInstant() + ".");
        }
        Date nbf = claims.getNotBeforeTime();
        if (nbf != null && now.isBefore(nbf.toInstant().minus(issuer.leeway()))) {
            throw GatewayException.unauthorized("The token is not valid before " + nbf.toInstant() + ".");
        }
        List<String> audience = claims.getAudience();
        if (audience.stream().noneMatch(issuer.audiences()::contains)) {
            throw GatewayException.unauthorized("The token's audience (aud) is not this gateway: it was issued for another API.");
        }
        return ClaimMapping.principal(claims, issuer, current);
    }

    private IssuerKeys keysOf(AuthConfig auth, AuthConfig.Oidc issuer) {
        if (auth != prunedTo) {
            prune(auth);
        }
        return keys.computeIfAbsent(id(issuer), k -> new IssuerKeys(issuer.issuer(), issuer.jwksUrl(), fetcher,
                minRefreshInterval, System::nanoTime));
    }

    /** Drops the keys of issuers (or JWKS locations) no longer configured. */
    private synchronized void prune(AuthConfig auth) {
        Set<String> configured = new HashSet<>();
        auth.oidc().forEach(o -> configured.add(id(o)));
        keys.keySet().retainAll(configured);
        prunedTo = auth;
    }

    private static String id(AuthConfig.Oidc issuer) {
        return issuer.issuer() + '\u0000' + (issuer.jwksUrl() == null ? "discovery" : issuer.jwksUrl());
    }
}
