package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** The canonical embeddings shapes, shared by adapters whose upstream speaks another one or only floats. */
public final class Embeddings {

    private Embeddings() {
    }

    /** The request's inputs as texts (token arrays are passed on as their JSON text). */
    public static List<String> inputs(ObjectNode request) {
        JsonNode input = request.path("input");
        List<String> texts = new ArrayList<>();
        if (input.isTextual()) {
            texts.add(input.asText());
        } else {
            input.forEach(item -> texts.add(item.isTextual() ? item.asText() : item.toString()));
        }
        return texts;
    }

    /** OpenAI's {@code encoding_format: base64}: little-endian float32, base64-encoded. */
    public static String base64(float[] vector) {
        ByteBuffer buf = ByteBuffer.allocate(4 * vector.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : vector) {
            buf.putFloat(f);
        }
        return Base64.getEncoder().encodeToString(buf.array());
    }

    /** One {@code data[]} item of a canonical embeddings list. */
    public static ObjectNode item(int index, float[] vector, boolean base64) {
        ObjectNode item = Json.object();
        item.put("object", "embedding");
        item.put("index", index);
        if (base64) {
            item.put("embedding", base64(vector));
        } else {
            ArrayNode values = item.putArray("embedding");
            for (float f : vector) {
                values.add(f);
            }
        }
        return item;
    }

    /** A JSON array of numbers as a vector. */
    public static float[] floats(JsonNode values) {
        float[] vector = new float[values.size()];
        for (int i = 0; i < vector.length; i++) {
            vector[i] = (float) values.get(i).asDouble();
        }
        return vector;
    }

    /** Re-encodes a float list in place as base64, for upstreams that answer only floats. */
    public static void floatsToBase64(ObjectNode list) {
        for (JsonNode item : list.path("data")) {
            JsonNode values = item.path("embedding");
            if (values.isArray()) {
                ((ObjectNode) item).put("embedding", base64(floats(values)));
            }
        }
    }
}
