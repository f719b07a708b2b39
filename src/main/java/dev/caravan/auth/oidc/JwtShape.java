package dev.caravan.auth.oidc;

import dev.caravan.core.Json;

import java.util.Base64;

/**
 * Tells a JWT from a virtual key by its look alone (no signature, no I/O): three base64url parts, the first of which
 * decodes to a JSON object (the JOSE header). Virtual keys ({@code sk-...}) have no dots.
 */
final class JwtShape {

    /**
     * Longer than any access token an IdP issues (Entra's, with groups, stay under 8 KB) and than the listener's
     * header limit: a longer credential is not read as a token.
     */
    static final int MAX_CHARS = 16 * 1024;

    private JwtShape() {
    }

    static boolean looksLikeJwt(String credential) {
        if (credential == null || credential.length() > MAX_CHARS) {
            return false;
        }
        int first = credential.indexOf('.');
        int second = first <= 0 ? -1 : credential.indexOf('.', first + 1);
        if (second < 0 || credential.indexOf('.', second + 1) >= 0) {
            return false;
        }
        byte[] header;
        try {
            header = Base64.getUrlDecoder().decode(credential.substring(0, first));
        } catch (IllegalArgumentException notBase64Url) {
            return false;
        }
        return header.length > 1 && header[0] == '{' && Json.parseObjectOrNull(header) != null;
    }
}
