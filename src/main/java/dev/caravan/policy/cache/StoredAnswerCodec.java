package dev.caravan.policy.cache;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * A {@link StoredAnswer} as the bytes of one Redis value: a version byte, the cost and the time stored (8 bytes
 * each, big-endian), the namespace and the model (each a 2-byte length and UTF-8), then the body as it is. Binary
 * rather than JSON: the body is already JSON, and escaping it again would cost time and bytes on every hit.
 */
final class StoredAnswerCodec {

    private static final byte VERSION = 1;
    private static final int HEADER = 1 + 8 + 8 + 2 + 2;

    private StoredAnswerCodec() {
    }

    static byte[] encode(StoredAnswer answer) {
        byte[] namespace = label("namespace", answer.namespace());
        byte[] model = label("model", answer.model());
        ByteBuffer out = ByteBuffer.allocate(HEADER + namespace.length + model.length + answer.body().length);
        out.put(VERSION).putLong(answer.costNanos()).putLong(answer.storedAtMillis());
        out.putShort((short) namespace.length).put(namespace);
        out.putShort((short) model.length).put(model);
        out.put(answer.body());
        return out.array();
    }

    /** The answer in {@code value}; a value this version did not write is {@link IllegalArgumentException}. */
    static StoredAnswer decode(byte[] value) {
        try {
            ByteBuffer in = ByteBuffer.wrap(value);
            if (in.get() != VERSION) {
                throw new IllegalArgumentException("a cache entry of version " + value[0] + ", not " + VERSION);
            }
            long cost = in.getLong();
            long storedAt = in.getLong();
            String namespace = string(in);
            String model = string(in);
            byte[] body = new byte[in.remaining()];
            in.get(body);
            return new StoredAnswer(body, cost, model, namespace, storedAt);
        } catch (java.nio.BufferUnderflowException e) {
            throw new IllegalArgumentException("a truncated cache entry (" + value.length + " bytes)", e);
        }
    }

    private static byte[] label(String name, String value) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > 0xFFFF) {
            throw new IllegalArgumentException("a cache " + name + " of " + bytes.length + " bytes (at most 65535)");
        }
        return bytes;
    }

    private static String string(ByteBuffer in) {
        byte[] bytes = new byte[in.getShort() & 0xFFFF];
        in.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
