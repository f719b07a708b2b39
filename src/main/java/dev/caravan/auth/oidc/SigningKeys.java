package dev.caravan.auth.oidc;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;

import java.text.ParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * One fetch of an issuer's JWKS, ready to verify with: each RSA and EC signing key with its verifier, built once
 * when the set arrives (off the event loop), so a request only looks its key up. Symmetric ({@code oct}) keys are
 * never used: a JWKS is public, so a shared secret in it would prove nothing.
 */
final class SigningKeys {

    /** Far more keys than an issuer publishes (two or three during a rotation); the rest of a larger set is ignored. */
    static final int MAX_KEYS = 64;

    /** The algorithms a token may be signed with: asymmetric only. EdDSA would need Tink beside nimbus. */
    static final Set<JWSAlgorithm> ACCEPTED = Set.of(JWSAlgorithm.RS256, JWSAlgorithm.RS384, JWSAlgorithm.RS512,
            JWSAlgorithm.PS256, JWSAlgorithm.PS384, JWSAlgorithm.PS512,
            JWSAlgorithm.ES256, JWSAlgorithm.ES384, JWSAlgorithm.ES512);

    private record Entry(String kid, JWK key, JWSVerifier verifier) {
        boolean fits(JWSAlgorithm alg) {
            if (key.getAlgorithm() != null && !key.getAlgorithm().equals(alg)) {
                return false; // a key pinned to one algorithm serves no other
            }
            if (key instanceof RSAKey) {
                return JWSAlgorithm.Family.RSA.contains(alg);
            }
            Set<Curve> curves = Curve.forJWSAlgorithm(alg);
            return key instanceof ECKey ec && curves != null && curves.contains(ec.getCurve());
        }
    }

    private final List<Entry> entries;

    private SigningKeys(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    /** The keys of a JWKS document; keys that are not for signatures, or that nimbus cannot use, are left out. */
    static SigningKeys parse(String jwks) {
        JWKSet set;
        try {
            set = JWKSet.parse(jwks);
        } catch (ParseException e) {
            throw new IllegalStateException("the answer is not a JWKS");
        }
        List<Entry> entries = new ArrayList<>();
        for (JWK key : set.getKeys()) {
            if (entries.size() == MAX_KEYS) {
                break;
            }
            if (key.getKeyUse() != null && !KeyUse.SIGNATURE.equals(key.getKeyUse())) {
                continue;
            }
            try {
                if (key instanceof RSAKey rsa) {
                    entries.add(new Entry(key.getKeyID(), key, new RSASSAVerifier(rsa.toPublicJWK())));
                } else if (key instanceof ECKey ec) {
                    entries.add(new Entry(key.getKeyID(), key, new ECDSAVerifier(ec.toPublicJWK())));
                }
            } catch (JOSEException unusable) {
                // a curve the JDK lacks, a point off its curve: this key verifies nothing
            }
        }
        return new SigningKeys(entries);
    }

    /**
     * The verifier for a token with this header: the key with the header's {@code kid} that fits its algorithm, or
     * without a {@code kid} the only key that fits; null when there is none (an unknown key id).
     */
    JWSVerifier find(JWSHeader header) {
        JWSAlgorithm alg = header.getAlgorithm();
        String kid = header.getKeyID();
        JWSVerifier only = null;
        int fitting = 0;
        for (Entry e : entries) {
            if (!e.fits(alg)) {
                continue;
            }
            if (kid != null && kid.equals(e.kid())) {
                return e.verifier();
            }
            fitting++;
            only = e.verifier();
        }
        return kid == null && fitting == 1 ? only : null;
    }

    /** The key ids, for the log line that says the set changed. */
    Set<String> kids() {
        Set<String> kids = new TreeSet<>();
        entries.forEach(e -> kids.add(e.kid() == null ? "(no kid)" : e.kid()));
        return kids;
    }

    int size() {
        return entries.size();
    }
}
