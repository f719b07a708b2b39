package dev.caravan.policy.audit;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The chain's hash of one row: lower-case hex SHA-256 over a canonical encoding of the previous row's hash and every
 * field of this one, in a fixed order (V3__audit_log.sql says it in full). Each value is length-prefixed, so no two
 * different rows encode alike ({@code "ab","c"} and {@code "a","bc"} differ), and null differs from the empty text.
 * It is computed over the values exactly as they are stored (already cut to their columns), so the database's copy
 * verifies as it was written.
 */
public final class AuditHash {

    /** The previous hash of row 1. */
    public static final String GENESIS = "0".repeat(64);

    private static final byte[] VERSION = "caravan-audit-v1".getBytes(StandardCharsets.UTF_8);
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private AuditHash() {
    }

    /** The hash of the stored row {@code r} whose predecessor's hash is {@code prevHash}. */
    public static String of(String prevHash, long seq, StoredEvent r) {
        MessageDigest sha = sha256();
        sha.update(VERSION);
        put(sha, prevHash);
        put(sha, Long.toString(seq));
        put(sha, Long.toString(r.tsMillis()));
        put(sha, r.actor());
        put(sha, r.role());
        put(sha, r.action());
        put(sha, r.target());
        put(sha, r.team());
        put(sha, r.outcome());
        put(sha, r.beforeJson());
        put(sha, r.afterJson());
        put(sha, r.requestId());
        put(sha, r.source());
        return hex(sha.digest());
    }

    private static void put(MessageDigest sha, String value) {
        if (value == null) {
            sha.update((byte) 'N');
            return;
        }
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        sha.update((byte) 'S');
        sha.update(Integer.toString(bytes.length).getBytes(StandardCharsets.US_ASCII));
        sha.update((byte) ':');
        sha.update(bytes);
    }

    private static String hex(byte[] bytes) {
        char[] out = new char[bytes.length * 2];
        for (int i = 0; i < bytes.length; i++) {
            out[2 * i] = HEX[(bytes[i] >> 4) & 0xf];
            out[2 * i + 1] = HEX[bytes[i] & 0xf];
        }
        return new String(out);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
