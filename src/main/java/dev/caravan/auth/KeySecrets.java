package dev.caravan.auth;

import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Virtual keys as they are made and stored: a new key is {@code sk-cvn-} and 32 base62 characters (190 bits), and
 * only its SHA-256 (hex) is kept, in config/gateway.yaml or the key directory. The admin API and
 * {@code caravan key new} make them here alike.
 */
public final class KeySecrets {

    public static final String PREFIX = "sk-cvn-";
    private static final String BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    private static final SecureRandom RANDOM = new SecureRandom();

    private KeySecrets() {
    }

    /** A new secret: {@code sk-cvn-} and 32 base62 characters. */
    public static String newSecret() {
        StringBuilder out = new StringBuilder(PREFIX);
        for (int i = 0; i < 32; i++) {
            out.append(BASE62.charAt(RANDOM.nextInt(BASE62.length())));
        }
        return out.toString();
    }

    /** A key id made from fresh randomness when none is given: {@code key-} and 12 lower-case base36 characters. */
    public static String newId() {
        return "key-" + newSecret().substring(PREFIX.length(), PREFIX.length() + 12).toLowerCase(java.util.Locale.ROOT);
    }

    /** What config/gateway.yaml's {@code sha256:} holds for {@code secret}: its SHA-256, lower-case hex. */
    public static String sha256Hex(String secret) {
        return HexFormat.of().formatHex(KeyAuthenticator.sha256(secret));
    }
}
