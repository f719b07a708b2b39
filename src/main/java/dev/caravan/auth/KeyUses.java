package dev.caravan.auth;

import dev.caravan.config.KeyConfig;
import dev.caravan.core.ClientRequest;

/**
 * What the authenticate step tells the run-time key directory: which keys are used (their last-used time, written
 * in batches off the request path) and which presented secret belongs to a revoked key (the audit log records the
 * attempt). Every method is called on the request path: each must return at once.
 */
public interface KeyUses {

    KeyUses NONE = new KeyUses() {
    };

    /** A key authenticated a request. */
    default void used(KeyConfig key) {
    }

    /** The id of the revoked key whose secret has this SHA-256 hex, or null. */
    default String revoked(String sha256Hex) {
        return null;
    }

    /** A revoked key's secret was presented (the answer is 401). */
    default void revokedUse(String keyId, ClientRequest request) {
    }
}
