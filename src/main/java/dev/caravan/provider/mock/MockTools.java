package dev.caravan.provider.mock;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.usage.CanonicalText;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Which tools the mock calls for a canonical request, honouring {@code tool_choice} and {@code parallel_tool_calls}:
 * the tool whose name and description share the most words with the last user message (ties: the first offered),
 * or, in parallel, every tool a word of the prompt names; arguments made from each tool's parameter schema. With
 * {@code auto}, a conversation whose last message is a tool result is answered in text, as a model would.
 */
public final class MockTools {

    /** One call the mock makes: the function's name and its arguments as JSON text. */
    public record Call(String name, String arguments) {
    }

    private static final Set<String> STOP = Set.of("the", "and", "for", "with", "what", "whats", "what's", "this",
            "that", "from", "into", "please", "can", "you", "your", "are", "was", "how", "does", "give", "tell",
            "about", "have", "has", "use", "using", "tool", "tools", "function", "call", "get", "set", "list", "make",
            "returns", "return", "given", "which", "when", "where", "who", "then", "now", "also", "both", "some", "any");

    private MockTools() {
    }

    /** The calls to make, in order; empty when the answer is text. */
    public static List<Call> calls(JsonNode body) {
        JsonNode tools = body.path("tools");
        List<JsonNode> functions = new ArrayList<>();
        for (JsonNode t : tools) {
            if (t.path("function").path("name").isTextual()) {
                functions.add(t.path("function"));
            }
        }
        if (functions.isEmpty()) {
            return List.of();
        }
        JsonNode choice = body.path("tool_choice");
        String mode = choice.isTextual() ? choice.asText() : choice.isObject() ? "named" : "auto";
        String prompt = lastUserText(body.path("messages"));
        switch (mode) {
            case "none":
                return List.of();
            case "named": {
                String name = choice.path("function").path("name").asText(choice.path("name").asText(""));
                for (JsonNode f : functions) {
                    if (f.path("name").asText().equals(name)) {
                        return List.of(call(f, prompt));
                    }
                }
                if (!"function".equals(choice.path("type").asText("function"))) {
                    break; // allowed_tools and other choices the mock does not model: as auto
                }
                throw GatewayException.badRequest("invalid_value", "tool_choice", "Invalid value for 'tool_choice': the function '"
                        + GatewayException.quote(name) + "' is not among the tools offered.");
            }
            case "required":
                return chosen(functions, prompt, body.path("parallel_tool_calls").asBoolean(true));
            default:
                break;
        }
        if (endsWithToolResult(body.path("messages"))) {
            return List.of();
        }
        return chosen(functions, prompt, body.path("parallel_tool_calls").asBoolean(true));
    }

    /**
     * The text answer to the tool results that end the conversation ("The tool get_weather returned: …"), or null
     * when the conversation does not end with one.
     */
    public static String toolResultAnswer(JsonNode messages) {
        if (!endsWithToolResult(messages)) {
            return null;
        }
        Map<String, String> names = new HashMap<>();
        for (JsonNode m : messages) {
            for (JsonNode c : m.path("tool_calls")) {
                names.put(c.path("id").asText(), c.path("function").path("name").asText());
            }
        }
        int first = messages.size();
        while (first > 0 && "tool".equals(messages.get(first - 1).path("role").asText())) {
            first--;
        }
        StringBuilder text = new StringBuilder();
        for (int i = first; i < messages.size(); i++) {
            JsonNode m = messages.get(i);
            String result = CanonicalText.of(m.path("content"), " ").strip();
            if (result.length() > 200) {
                result = result.substring(0, 200) + "…";
            }
            String name = names.getOrDefault(m.path("tool_call_id").asText(), "tool");
            text.append(text.isEmpty() ? "" : " ").append("The tool ").append(name).append(" returned: ").append(result)
                    .append(result.endsWith(".") ? "" : ".");
        }
        return text.toString();
    }

    private static boolean endsWithToolResult(JsonNode messages) {
        return !messages.isEmpty() && "tool".equals(messages.get(messages.size() - 1).path("role").asText());
    }

    private static List<Call> chosen(List<JsonNode> functions, String prompt, boolean parallel) {
        Set<String> words = words(prompt);
        // a name's word counts only if no other offered tool's name has it: "get" in get_weather and get_time says nothing
        Map<String, Integer> nameWordTools = new HashMap<>();
        List<Set<String>> nameWords = new ArrayList<>();
        for (JsonNode f : functions) {
            Set<String> w = words(splitName(f.path("name").asText()));
            nameWords.add(w);
            w.forEach(x -> nameWordTools.merge(x, 1, Integer::sum));
        }
        int best = 0;
        int bestScore = -1;
        List<JsonNode> named = new ArrayList<>();
        for (int i = 0; i < functions.size(); i++) {
            int nameHits = 0;
            for (String w : nameWords.get(i)) {
                if (nameWordTools.get(w) == 1 && words.contains(w)) {
                    nameHits++;
                }
            }
            Set<String> description = words(functions.get(i).path("description").asText(""));
            description.retainAll(words);
            int score = 2 * nameHits + description.size();
            if (score > bestScore) {
                best = i;
                bestScore = score;
            }
            if (nameHits > 0) {
                named.add(functions.get(i));
            }
        }
        List<Call> calls = new ArrayList<>();
        if (parallel && named.size() > 1) {
            named.forEach(f -> calls.add(call(f, prompt)));
        } else {
            calls.add(call(functions.get(best), prompt));
        }
        return calls;
    }

    private static Call call(JsonNode function, String prompt) {
        JsonNode parameters = function.path("parameters");
        JsonNode arguments = parameters.isObject() ? MockJson.valueFor(parameters, prompt) : Json.object();
        return new Call(function.path("name").asText(), arguments.toString());
    }

    /** get_weather, getWeather, get-weather: "get weather". */
    private static String splitName(String name) {
        return name.replaceAll("([a-z0-9])([A-Z])", "$1 $2").replaceAll("[_\\-.]", " ");
    }

    /** Lower-case words of three letters or more, without stop words, singular by a trailing "s" dropped. */
    static Set<String> words(String text) {
        Set<String> out = new LinkedHashSet<>();
        for (String w : text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}]+")) {
            if (w.length() >= 3 && !STOP.contains(w)) {
                out.add(w.length() > 3 && w.endsWith("s") && !w.endsWith("ss") ? w.substring(0, w.length() - 1) : w);
            }
        }
        return out;
    }

    /** The last user message's text: what the mock answers, and where arguments take their values from. */
    public static String lastUserText(JsonNode messages) {
        for (int i = messages.size() - 1; i >= 0; i--) {
            JsonNode m = messages.get(i);
            if ("user".equals(m.path("role").asText())) {
                return CanonicalText.of(m.path("content"), "");
            }
        }
        return messages.isEmpty() ? "" : CanonicalText.of(messages.get(messages.size() - 1).path("content"), "");
    }
}
