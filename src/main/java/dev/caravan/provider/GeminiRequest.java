package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;
import dev.caravan.usage.CanonicalText;

import java.util.ArrayList;
import java.util.List;

/**
 * The canonical (OpenAI chat) request as a Gemini {@code GenerateContentRequest}: system and developer messages
 * become the system instruction, turns alternate between "user" and "model", tool calls and their results become
 * functionCall and functionResponse parts, and sampling options move into {@code generationConfig}. Fields Gemini
 * has no counterpart for are left out.
 */
final class GeminiRequest {

    /**
     * Google's documented stand-in for a thought signature the client could not keep: Gemini 3 refuses a
     * function-call turn without one, and OpenAI clients that drop unknown fields lose the real one.
     */
    static final String SKIP_SIGNATURE = "skip_thought_signature_validator";

    private GeminiRequest() {
    }

    /** A whole {@code generateContent} body. */
    static ObjectNode generateContent(ObjectNode canonical) {
        ObjectNode out = Json.object();
        JsonNode messages = canonical.path("messages");
        ObjectNode system = systemInstruction(messages);
        if (system != null) {
            out.set("systemInstruction", system);
        }
        out.set("contents", contents(messages));
        GeminiSchema.Budget schemas = new GeminiSchema.Budget();
        ArrayNode tools = tools(canonical.path("tools"), schemas);
        if (tools != null) {
            out.set("tools", tools);
        }
        ObjectNode toolConfig = toolConfig(canonical.get("tool_choice"));
        if (toolConfig != null) {
            out.set("toolConfig", toolConfig);
        }
        ObjectNode generation = generationConfig(canonical, schemas);
        if (!generation.isEmpty()) {
            out.set("generationConfig", generation);
        }
        return out;
    }

    /** The body of {@code countTokens}: the request it would count, model included, without sampling options. */
    static ObjectNode countTokens(ObjectNode canonical, String model) {
        ObjectNode full = generateContent(canonical);
        ObjectNode request = Json.object();
        request.put("model", "models/" + model);
        request.set("contents", full.get("contents"));
        for (String field : List.of("systemInstruction", "tools")) {
            if (full.has(field)) {
                request.set(field, full.get(field));
            }
        }
        ObjectNode out = Json.object();
        out.set("generateContentRequest", request);
        return out;
    }

    private static ObjectNode systemInstruction(JsonNode messages) {
        ArrayNode parts = Json.MAPPER.createArrayNode();
        for (JsonNode m : messages) {
            String role = m.path("role").asText();
            if (role.equals("system") || role.equals("developer")) {
                String text = CanonicalText.of(m.get("content"), "");
                if (!text.isEmpty()) {
                    parts.addObject().put("text", text);
                }
            }
        }
        if (parts.isEmpty()) {
            return null;
        }
        ObjectNode system = Json.object();
        system.set("parts", parts);
        return system;
    }

    /** The turns, consecutive turns of one role merged: Gemini expects them to alternate. */
    private static ArrayNode contents(JsonNode messages) {
        ArrayNode contents = Json.MAPPER.createArrayNode();
        List<JsonNode> seen = new ArrayList<>();
        for (JsonNode m : messages) {
            String role = m.path("role").asText();
            ArrayNode parts = switch (role) {
                case "user" -> userParts(m.get("content"));
                case "assistant" -> modelParts(m);
                case "tool", "function" -> functionResponse(m, seen);
                default -> null; // system and developer went to the system instruction
            };
            seen.add(m);
            if (parts == null || parts.isEmpty()) {
                continue;
            }
            String geminiRole = role.equals("assistant") ? "model" : "user";
            JsonNode last = contents.isEmpty() ? null : contents.get(contents.size() - 1);
            if (last != null && last.path("role").asText().equals(geminiRole)) {
                ((ArrayNode) last.get("parts")).addAll(parts);
            } else {
                ObjectNode content = contents.addObject();
                content.put("role", geminiRole);
                content.set("parts", parts);
            }
        }
        return contents;
    }

    private static ArrayNode userParts(JsonNode content) {
        ArrayNode parts = Json.MAPPER.createArrayNode();
        ContentParts.walk(content, new ContentParts.Visitor() {
            @Override
            public void text(String text) {
                addText(parts, text);
            }

            @Override
            public void imageUrl(String url) {
                parts.add(media(url, null));
            }

            @Override
            public void inputAudio(JsonNode audio) {
                ObjectNode inline = parts.addObject().putObject("inlineData");
                inline.put("mimeType", "audio/" + audio.path("format").asText("wav"));
                inline.put("data", audio.path("data").asText());
            }

            @Override
            public void file(JsonNode file) {
                if (file.hasNonNull("file_data")) {
                    parts.add(media(file.path("file_data").asText(), null));
                } else if (file.hasNonNull("file_id")) {
                    parts.add(media(file.path("file_id").asText(), null));
                }
            }

            @Override
            public void other(String type) {
                // other part types (refusal) carry nothing Gemini reads
            }
        });
        return parts;
    }

    /** A data: URL as inline bytes; any other URL (a Files API URI, gs://, https) as file data. */
    private static ObjectNode media(String url, String mimeType) {
        ObjectNode part = Json.object();
        if (url.startsWith("data:") && url.contains(";base64,")) {
            int comma = url.indexOf(";base64,");
            ObjectNode inline = part.putObject("inlineData");
            inline.put("mimeType", url.substring(5, comma));
            inline.put("data", url.substring(comma + 8));
            return part;
        }
        ObjectNode file = part.putObject("fileData");
        String type = mimeType != null ? mimeType : guessMimeType(url);
        if (type != null) {
            file.put("mimeType", type);
        }
        file.put("fileUri", url);
        return part;
    }

    private static String guessMimeType(String url) {
        String path = url.toLowerCase(java.util.Locale.ROOT).replaceAll("[?#].*$", "");
        if (path.endsWith(".png")) {
            return "image/png";
        } else if (path.endsWith(".jpg") || path.endsWith(".jpeg")) {
            return "image/jpeg";
        } else if (path.endsWith(".webp")) {
            return "image/webp";
        } else if (path.endsWith(".gif")) {
            return "image/gif";
        } else if (path.endsWith(".pdf")) {
            return "application/pdf";
        }
        return null;
    }

    private static ArrayNode modelParts(JsonNode message) {
        ArrayNode parts = Json.MAPPER.createArrayNode();
        addText(parts, CanonicalText.of(message.get("content"), ""));
        boolean first = true;
        for (JsonNode call : message.path("tool_calls")) {
            ObjectNode part = parts.addObject();
            ObjectNode functionCall = part.putObject("functionCall");
            functionCall.put("name", call.path("function").path("name").asText());
            functionCall.set("args", argumentsObject(call.path("function").path("arguments").asText("")));
            String signature = call.path("extra_content").path("google").path("thought_signature").asText(null);
            if (signature != null) {
                part.put("thoughtSignature", signature);
            } else if (first) {
                part.put("thoughtSignature", SKIP_SIGNATURE); // only a turn's first call carries one
            }
            first = false;
        }
        return parts;
    }

    private static ObjectNode argumentsObject(String arguments) {
        ObjectNode args = arguments.isBlank() ? null : Json.parseObjectOrNull(arguments);
        // a cut-off or non-object arguments string still has to be an object for Gemini; the call is history now
        return args != null ? args : Json.object();
    }

    /** A tool result, answered under the name of the call it answers (the nearest earlier call with its id). */
    private static ArrayNode functionResponse(JsonNode message, List<JsonNode> earlier) {
        String id = message.path("tool_call_id").asText(null);
        String name = message.path("name").asText(null);
        for (int i = earlier.size() - 1; i >= 0 && id != null; i--) {
            for (JsonNode call : earlier.get(i).path("tool_calls")) {
                if (id.equals(call.path("id").asText())) {
                    name = call.path("function").path("name").asText(name);
                    i = -1;
                    break;
                }
            }
        }
        String text = CanonicalText.of(message.get("content"), "");
        ObjectNode response = Json.parseObjectOrNull(text);
        if (response == null) {
            response = Json.object();
            response.put("content", text);
        }
        ArrayNode parts = Json.MAPPER.createArrayNode();
        ObjectNode functionResponse = parts.addObject().putObject("functionResponse");
        functionResponse.put("name", name != null ? name : id);
        functionResponse.set("response", response);
        return parts;
    }

    private static ArrayNode tools(JsonNode tools, GeminiSchema.Budget schemas) {
        ArrayNode declarations = Json.MAPPER.createArrayNode();
        for (int i = 0; tools.isArray() && i < tools.size(); i++) {
            JsonNode tool = tools.get(i);
            JsonNode function = tool.path("function");
            if (!tool.path("type").asText("function").equals("function") || !function.has("name")) {
                continue;
            }
            ObjectNode declaration = declarations.addObject();
            declaration.put("name", function.path("name").asText());
            if (function.hasNonNull("description")) {
                declaration.put("description", function.path("description").asText());
            }
            JsonNode parameters = function.get("parameters");
            // a function without parameters leaves them out: Gemini refuses an object schema with no properties
            if (parameters != null && parameters.isObject() && !parameters.path("properties").isEmpty()) {
                declaration.set("parameters", GeminiSchema.of(parameters, "tools[" + i + "].function.parameters", schemas));
            }
        }
        if (declarations.isEmpty()) {
            return null;
        }
        ArrayNode out = Json.MAPPER.createArrayNode();
        out.addObject().set("functionDeclarations", declarations);
        return out;
    }

    private static ObjectNode toolConfig(JsonNode choice) {
        if (choice == null || choice.isNull()) {
            return null;
        }
        ObjectNode config = Json.object();
        ObjectNode calling = config.putObject("functionCallingConfig");
        if (choice.isTextual()) {
            switch (choice.asText()) {
                case "none" -> calling.put("mode", "NONE");
                case "required" -> calling.put("mode", "ANY");
                default -> calling.put("mode", "AUTO");
            }
        } else if (choice.path("function").hasNonNull("name")) {
            calling.put("mode", "ANY");
            calling.putArray("allowedFunctionNames").add(choice.path("function").path("name").asText());
        } else {
            return null;
        }
        return config;
    }

    private static ObjectNode generationConfig(ObjectNode canonical, GeminiSchema.Budget schemas) {
        ObjectNode config = Json.object();
        copyNumber(canonical, "temperature", config, "temperature");
        copyNumber(canonical, "top_p", config, "topP");
        copyNumber(canonical, "max_tokens", config, "maxOutputTokens");
        copyNumber(canonical, "max_completion_tokens", config, "maxOutputTokens");
        copyNumber(canonical, "n", config, "candidateCount");
        copyNumber(canonical, "seed", config, "seed");
        copyNumber(canonical, "presence_penalty", config, "presencePenalty");
        copyNumber(canonical, "frequency_penalty", config, "frequencyPenalty");
        JsonNode stop = canonical.get("stop");
        if (stop != null && stop.isTextual()) {
            config.putArray("stopSequences").add(stop.asText());
        } else if (stop != null && stop.isArray() && !stop.isEmpty()) {
            config.set("stopSequences", stop.deepCopy());
        }
        JsonNode format = canonical.path("response_format");
        switch (format.path("type").asText()) {
            case "json_object" -> config.put("responseMimeType", "application/json");
            case "json_schema" -> {
                config.put("responseMimeType", "application/json");
                JsonNode schema = format.path("json_schema").get("schema");
                if (schema != null && schema.isObject()) {
                    config.set("responseSchema", GeminiSchema.of(schema, "response_format.json_schema.schema", schemas));
                }
            }
            default -> {
                // "text" is Gemini's default
            }
        }
        return config;
    }

    private static void copyNumber(JsonNode from, String field, ObjectNode to, String as) {
        JsonNode v = from.get(field);
        if (v != null && v.isNumber()) {
            to.set(as, v);
        }
    }

    private static void addText(ArrayNode parts, String text) {
        if (!text.isEmpty()) { // Gemini refuses empty text parts
            parts.addObject().put("text", text);
        }
    }
}
