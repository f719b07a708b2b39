package dev.caravan.policy.guardrail.injection;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code delimiter}: a text that fakes the frame around it, to make the model read what follows as the system or a
 * new turn: chat-template tokens ({@code <|im_start|>system}, {@code [INST]}, {@code <<SYS>>},
 * {@code <|start_header_id|>}), role headers ({@code ### System:}, {@code [SYSTEM]}), "END OF USER INPUT" and
 * "BEGIN SYSTEM PROMPT", and a closing tag ({@code </user>}, {@code </document>}) with no opening tag before it, which
 * tries to close the wrapper the application put around the text.
 *
 * <p>What it leaves alone: tokens inside code (a Python string building a prompt, a fenced template) and tokens named
 * in passing in a question ("why does my output contain {@code <|endoftext|>}?"): a token counts only where it acts
 * as a frame, at the start of a line, next to another token or before a role name. XML with matched tags
 * ({@code <user>…</user>}) is data, not an attack.
 */
final class DelimiterRule implements PhraseRule {

    private static final Pattern TOKEN = Pattern.compile("<\\|\\s*(?:im_start|im_end|im_sep|system|user|assistant|endoftext|end_of_text"
            + "|begin_of_text|eot_id|eom_id|start_header_id|end_header_id|eos|bos|end|start|sep|tool_call|tool_response|channel|message"
            + "|return|constrain)\\s*\\|>|</?(?:start_of_turn|end_of_turn)>|\\[/?inst]|<</?sys>>"
            + "|</?(?:system|system_prompt|system_message|system_instructions|sys|developer_message|admin_instructions)>");
    private static final Pattern ROLE = Pattern.compile("\\s*(?:system|user|assistant|developer|human|model|ai|admin)\\b");

    private static final List<Phrase> MARKERS = List.of(
            Phrase.of("(?m)^[\\s>]*#{1,6}\\s*(?:new\\s+|updated\\s+)?(?:system|admin|developer|assistant)\\s*(?:prompt|message|instructions?|override"
                    + "|update|note|notice)?\\s*:", "#"),
            Phrase.of("(?m)^[\\s>]*\\[(?:system|sys|admin|developer)(?:\\s+(?:message|prompt|note|override|notice|instructions?))?]\\s*:?", "[system",
                    "[sys", "[admin", "[developer"),
            Phrase.of("\\b(?:end|close)\\s+of\\s+(?:the\\s+)?(?:user(?:'s)?\\s+(?:input|message|prompt|query|request|turn|text|content)"
                    + "|(?:untrusted|external)\\s+(?:input|content|text|data))\\b", "end of", "close of"),
            Phrase.of("\\b(?:begin|start)(?:ning)?\\s+(?:of\\s+)?(?:the\\s+)?(?:new\\s+|real\\s+|actual\\s+|true\\s+|updated\\s+|hidden\\s+)?"
                    + "(?:system|admin|developer)\\s+(?:prompt|message|instructions?|turn|mode)\\b", "begin", "start"),
            // "-----END USER MESSAGE-----", "-----SYSTEM-----", "=== SYSTEM UPDATE ==="
            Phrase.of("[-=*#_~]{3,}\\s*(?:(?:end|begin|start)\\s+(?:of\\s+)?(?:the\\s+)?)?(?:user|system|assistant|developer|admin)"
                    + "(?:\\s+(?:message|input|prompt|turn|instructions?|update|override|notice))?\\s*[-=*#_~]{3,}", "---", "===", "***", "###",
                    "___", "~~~"),
            Phrase.of("(?:[-=*#_~]{3,}|\\[|\\()\\s*end\\s+(?:of\\s+)?(?:the\\s+)?(?:document|context|email|data|input|text|file|message|transcript"
                    + "|conversation|search\\s+results?|tool\\s+output|article|page|review)\\s*(?:[-=*#_~]{3,}|]|\\))", "end"));

    private static final Pattern CLOSING = Pattern.compile("</(user|user_input|user_message|user_query|human|human_turn|input|query|prompt"
            + "|instructions|context|document|documents|data|email|tool_output|tool_result|function_results?|search_results?|untrusted"
            + "|untrusted_input|external|content|text|message)>");

    @Override
    public String name() {
        return "delimiter";
    }

    @Override
    public boolean matches(Reading reading) {
        String lower = reading.text;
        return framingToken(lower) || Phrase.anyUnshielded(MARKERS, reading, true) || unopenedClosingTag(lower);
    }

    /** A chat-template token where it frames: at a line's start, beside another token, or before a role name. */
    private static boolean framingToken(String lower) {
        if (lower.indexOf('<') < 0 && lower.indexOf('[') < 0) {
            return false;
        }
        Matcher m = TOKEN.matcher(lower);
        int previousEnd = -10;
        Quotes quotes = null;
        while (m.find()) {
            boolean lineStart = lineStart(lower, m.start());
            boolean besideToken = m.start() - previousEnd <= 3;
            boolean beforeRole = ROLE.matcher(lower).region(m.end(), lower.length()).lookingAt();
            previousEnd = m.end();
            if (!(lineStart || besideToken || beforeRole)) {
                continue;
            }
            if (quotes == null) {
                quotes = Quotes.of(lower);
            }
            if (!quotes.shields(m.start(), m.end(), true)) {
                return true;
            }
        }
        return false;
    }

    private static boolean lineStart(String text, int at) {
        for (int i = at - 1; i >= 0; i--) {
            char c = text.charAt(i);
            if (c == '\n') {
                return true;
            }
            if (!Character.isWhitespace(c)) {
                return false;
            }
        }
        return true;
    }

    /** {@code </user>} with no {@code <user>} or {@code <user ...>} before it, outside code. */
    private static boolean unopenedClosingTag(String lower) {
        if (!lower.contains("</")) {
            return false;
        }
        Matcher m = CLOSING.matcher(lower);
        while (m.find()) {
            String name = m.group(1);
            String before = lower.substring(0, m.start());
            boolean opened = before.contains("<" + name + ">") || before.contains("<" + name + " ");
            if (!opened && !Quotes.of(lower).inCode(m.start(), m.end())) {
                return true;
            }
        }
        return false;
    }
}
