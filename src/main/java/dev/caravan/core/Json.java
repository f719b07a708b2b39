package dev.caravan.core;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;

/** The one Jackson mapper: configured once, thread-safe, shared. */
public final class Json {

    /** The shipped caravan.maxBodyBytes (32 MiB): one JSON string may be as long as the body it is in. */
    private static final int DEFAULT_MAX_STRING = 33_554_432;

    public static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxStringLength(DEFAULT_MAX_STRING).build())
            .build())
            .configure(DeserializationFeature.FAIL_ON_TRAILING_TOKENS, true);

    private Json() {
    }

    /**
     * Lets one string be as long as the largest body (Jackson's default stops at 20M characters, short of a base64
     * image in a 32 MiB request). Called once at start-up with caravan.maxBodyBytes; parsers made later use it.
     */
    public static void allowStringsUpTo(long maxBodyBytes) {
        int chars = (int) Math.min(Integer.MAX_VALUE, Math.max(maxBodyBytes, 1));
        MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxStringLength(chars).build());
    }

    public static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    /** Parses bytes that must hold one JSON object; null when they do not. */
    public static ObjectNode parseObjectOrNull(byte[] bytes) {
        if (bytes == null || bytes.length == 0) {
            return null;
        }
        try {
            JsonNode node = MAPPER.readTree(bytes);
            return node instanceof ObjectNode o ? o : null;
        } catch (IOException e) {
            return null;
        }
    }

    public static ObjectNode parseObjectOrNull(String text) {
        try {
            JsonNode node = MAPPER.readTree(text);
            return node instanceof ObjectNode o ? o : null;
        } catch (IOException e) {
            return null;
        }
    }

    public static byte[] bytes(JsonNode node) {
        try {
            return MAPPER.writeValueAsBytes(node);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static String string(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
