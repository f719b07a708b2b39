package dev.caravan.auth;

import java.util.concurrent.CompletionStage;

/**
 * Bearer credentials that are not virtual keys: JWT access tokens of a trusted issuer ({@code auth.oidc}). An
 * interface here, so that the key step knows tokens without knowing how they are verified (auth/oidc implements it).
 */
public interface Tokens {

    Tokens NONE = new Tokens() {
        @Override
        public boolean claims(String credential) {
            return false;
        }

        @Override
        public CompletionStage<Principal> principalFor(String token) {
            throw new IllegalStateException("no token issuer is configured");
        }
    };

    /**
     * Whether {@code credential} is for this verifier: it is shaped like a JWT and some issuer is configured. Cheap
     * and without I/O: the listener asks it from a request's head.
     */
    boolean claims(String credential);

    /**
     * The caller a token names. Complete at once when the issuer's signing keys are at hand (the usual case);
     * later when they must be fetched first. Fails (or throws) with a {@code GatewayException}: 401 for a token that
     * does not verify, 403 for one that names a team the gateway does not have.
     */
    CompletionStage<Principal> principalFor(String token);
}
