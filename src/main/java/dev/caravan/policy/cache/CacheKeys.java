package dev.caravan.policy.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * The cache's keys, each a SHA-256 over the request's canonical form (fields in sorted order, so two clients that
 * order their JSON differently share entries) and its scope. The exact key covers everything that changes the
 * answer: every field of the canonical request (model as the client sent it, messages, tools, tool_choice,
 * response_format, seed, temperature, n, ...) except those that only change how the answer travels.
 */
public final class CacheKeys {

    /** Fields that change how the answer is delivered or attributed, never what it says. */
    static final Set<String> NOT_IN_KEY = Set.of("stream", "stream_options", "user", "caravan");

    /** The fields a semantic partition leaves out: the messages (its last user turn is embedded, the rest hashed apart). */
    private static final Set<String> NOT_IN_PARAMETERS = Set.of("stream", "stream_options", "user", "caravan", "messages",
            "tools", "functions");

    private CacheKeys() {
    }

    /** The exact key: {@code scope} and {@code namespace} and the operation, then the request without NOT_IN_KEY. */
    public static String exact(String scope, String namespace, String operation, ObjectNode request) {
        MessageDigest sha = sha256();
        text(sha, "exact");
        text(sha, scope);
        text(sha, namespace);
        text(sha, operation);
        canonical(sha, request, NOT_IN_KEY);
        return HexFormat.of().formatHex(sha.digest());
    }

    /**
     * The semantic partition: a hard filter, never text inside the embedded string. Scope, namespace, model, the
     * system prompt, the turns before the last user turn, the tools and every other parameter must all be equal for
     * two requests to be compared at all.
     */
    public static String partition(String scope, String namespace, ObjectNode request, int lastUserTurn) {
        MessageDigest sha = sha256();
        text(sha, "semantic");
        text(sha, scope);
        text(sha, namespace);
        JsonNode messages = request.path("messages");
        for (int i = 0; i < messages.size(); i++) {
            if (i != lastUserTurn) {
                canonical(sha, messages.get(i), Set.of());
            } else {
                text(sha, "<embedded>"); // its place in the conversation counts, its words are compared by meaning
            }
        }
        text(sha, "tools");
        canonical(sha, request.path("tools"), Set.of());
        canonical(sha, request.path("functions"), Set.of());
        text(sha, "parameters");
        canonical(sha, request, NOT_IN_PARAMETERS);
        return HexFormat.of().formatHex(sha.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every JVM has it
        }
    }

    private static void text(MessageDigest sha, String value) {
        byte[] bytes = (value == null ? "\u0000" : value).getBytes(StandardCharsets.UTF_8);
        length(sha, bytes.length);
        sha.update(bytes);
    }

    private static void length(MessageDigest sha, int n) {
        sha.update((byte) (n >>> 24));
        sha.update((byte) (n >>> 16));
        sha.update((byte) (n >>> 8));
        sha.update((byte) n);
    }

    /** Feeds a JSON value in a canonical form: objects' fields sorted by name, each value typed and length-prefixed. */
    private static void canonical(MessageDigest sha, JsonNode node, Set<String> skip) {
        if (node == null || node.isMissingNode() || node.isNull()) {
            sha.update((byte) 'n');
        } else if (node.isObject()) {
            sha.update((byte) '{');
            List<String> names = new ArrayList<>(node.size());
            for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
                String name = it.next();
                if (!skip.contains(name)) {
                    names.add(name);
                }
            }
            Collections.sort(names);
            length(sha, names.size());
            for (String name : names) {
                text(sha, name);
                canonical(sha, node.get(name), Set.of());
            }
        } else if (node.isArray()) {
            sha.update((byte) '[');
            length(sha, node.size());
            for (JsonNode element : node) {
                canonical(sha, element, Set.of());
            }
        } else if (node.isTextual()) {
            sha.update((byte) 's');
            text(sha, node.textValue());
        } else if (node.isNumber()) {
            sha.update((byte) '#');
            // 1, 1.0 and 1e0 ask for the same thing
            text(sha, node.decimalValue().stripTrailingZeros().toPlainString());
        } else {
            sha.update((byte) 'b');
            text(sha, node.asText());
        }
    }
}
