package dev.caravan.policy.guardrail.injection;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The spans of a text that show words rather than say them: code (fenced blocks, inline backticks) and short
 * quotations ("…", “…”, ‘…’, '…', «…»). A rule that matches only inside one is not a hit when the text around the
 * quotations is about attacks ({@link #discussion}): "what does 'ignore previous instructions' do?" asks about the
 * phrase. The discussion must be outside the quotations, a quotation shields only up to {@value #MAX_QUOTE}
 * characters (a phrase, not a document), and a JSON value ({@code "note": "…"}) never does: a tool result is all
 * quotations, and one of them mentioning "test" must not shield the rest.
 *
 * <p>An attacker who quotes his own attack and adds "what does it mean" gets past the rules, not past the semantic
 * detector; a rule that flagged every quotation would block every security question. Built only after a rule has
 * matched (rare), never for every text.
 */
final class Quotes {

    /** The longest quotation that counts as a mention; longer quoted text is content. */
    static final int MAX_QUOTE = 200;
    /** The longest code block that shields a phrase in a discussion (a snippet); a pasted document in a fence does not. */
    static final int MAX_CODE = 1_000;

    // the words of a text that talks about attacks and guards instead of mounting an attack; not after "." or "@",
    // so that a domain such as weather.example is no "example"
    private static final Pattern ABOUT_ATTACKS = Pattern.compile("(?<![.@/-])\\b(?:prompt[- ]injections?|injections?|jailbreak(?:s|ing)?"
            + "|red[- ]team(?:ing|s)?|guardrails?|classif(?:y|ier|iers|ication)|detect(?:s|ed|ing|ion|or)?|filter(?:s|ing)?"
            + "|datasets?|examples?|means?|meaning|phrases?|strings?|regex(?:es)?|patterns?|security|attacks?(?:ers)?"
            + "|papers?|research|blog|article|training\\s+data|test(?:s|\\s+cases?)?|unit\\s+tests?|special\\s+tokens?"
            + "|chat\\s+templates?|tokeni[sz]ers?|format(?:s|ting)?|syntax|escape|literal(?:ly)?|why\\s+(?:do|does|is|are|would)"
            + "|what\\s+(?:does|do|is|are)|explain|how\\s+(?:do|does|can|would|should)|like|such\\s+as|logs?|typed|wrote|warning"
            + "|flag(?:s|ged)?|refus(?:e|ed|es|ing|al)|someone|somebody|what's|whats|origin|history|why|how|who|posted)\\b");
    // code talk: a prompt template or a string literal in a question about code shields a delimiter token
    private static final Pattern ABOUT_CODE = Pattern.compile("(?<![.@/-])\\b(?:code|script|function|python|javascript|template|bug|error"
            + "|parse[sr]?|compile[sr]?|string|literal|snippet|config|regex|tokeni[sz]er|format)\\b");

    private enum Kind { CODE, QUOTE }

    private record Span(int start, int end, Kind kind) {
    }

    private final List<Span> spans;
    private final boolean discussion;
    private final boolean codeTalk;

    private Quotes(String lower) {
        this.spans = spans(lower);
        String outside = outside(lower, spans);
        this.discussion = ABOUT_ATTACKS.matcher(outside).find();
        this.codeTalk = discussion || ABOUT_CODE.matcher(outside).find();
    }

    /** The spans of {@code lower} (a lower-case reading) and what the text around them is about. */
    static Quotes of(String lower) {
        return new Quotes(lower);
    }

    /** Whether the text outside its quotations talks about attacks, guards or prompt formats. */
    boolean discussion() {
        return discussion;
    }

    /**
     * Whether {@code [start, end)} is shown rather than said: inside code when {@code codeShields} (delimiter tokens
     * in a template) or the text discusses attacks; inside a quotation when the text discusses attacks, or, for
     * delimiters, code.
     */
    boolean shields(int start, int end, boolean codeShields) {
        for (Span s : spans) {
            if (s.start <= start && end <= s.end) {
                return s.kind == Kind.CODE ? codeShields || (discussion && s.end - s.start <= MAX_CODE)
                        : discussion || (codeShields && codeTalk);
            }
        }
        return false;
    }

    /** Whether {@code [start, end)} lies inside code (fenced or inline). */
    boolean inCode(int start, int end) {
        for (Span s : spans) {
            if (s.kind == Kind.CODE && s.start <= start && end <= s.end) {
                return true;
            }
        }
        return false;
    }

    /**
     * {@code text} with each quotation and inline code replaced by {@code "..."} when the text discusses attacks:
     * what the semantic detector embeds, so that a question about a quoted attack is compared as the question it is.
     */
    static String maskQuoted(String text) {
        String lower = text.toLowerCase(Locale.ROOT);
        if (lower.length() != text.length()) {
            return text; // a case mapping changed lengths (rare scripts): the spans would not line up, embed as is
        }
        Quotes q = of(lower);
        if (!q.discussion || q.spans.isEmpty()) {
            return text;
        }
        StringBuilder b = new StringBuilder(text.length());
        int last = 0;
        for (Span span : q.spans) {
            b.append(text, last, span.start).append("\"...\"");
            last = span.end;
        }
        return b.append(text, last, text.length()).toString();
    }

    private static String outside(String text, List<Span> spans) {
        if (spans.isEmpty()) {
            return text;
        }
        StringBuilder b = new StringBuilder(text.length());
        int last = 0;
        for (Span s : spans) {
            b.append(text, last, s.start).append(" \"\" ");
            last = s.end;
        }
        return b.append(text, last, text.length()).toString();
    }

    private static List<Span> spans(String text) {
        List<Span> spans = new ArrayList<>();
        int i = 0;
        while (i < text.length()) {
            int close = -1;
            Kind kind = Kind.QUOTE;
            char c = text.charAt(i);
            if (text.startsWith("```", i)) {
                close = text.indexOf("```", i + 3);
                close = close < 0 ? text.length() : close + 3; // an unclosed fence runs to the end
                kind = Kind.CODE;
            } else if (c == '`') {
                close = closing(text, i + 1, '`', true);
                kind = Kind.CODE;
            } else if (!jsonValue(text, i)) {
                switch (c) {
                    case '"' -> close = closing(text, i + 1, '"', true);
                    case '“' -> close = closing(text, i + 1, '”', false);
                    case '‘' -> close = closing(text, i + 1, '’', false);
                    case '«' -> close = closing(text, i + 1, '»', false);
                    case '\'' -> close = opensSingleQuote(text, i) ? closingSingleQuote(text, i + 1) : -1;
                    default -> close = -1;
                }
            } else if (c == '"' || c == '\'') {
                close = closing(text, i + 1, c, true);
                if (close > 0) {
                    i = close; // a JSON value is content: skip it whole, shielding nothing
                    continue;
                }
            }
            if (close > 0) {
                spans.add(new Span(i, close, kind));
                i = close;
            } else {
                i++;
            }
        }
        return spans;
    }

    /** A quote after {@code "key":} opens a JSON value, not a quotation ("Translate: '…'" is prose and quotes). */
    private static boolean jsonValue(String text, int i) {
        int j = i - 1;
        while (j >= 0 && i - j <= 3 && Character.isWhitespace(text.charAt(j))) {
            j--;
        }
        if (j < 0 || text.charAt(j) != ':') {
            return false;
        }
        j--;
        while (j >= 0 && Character.isWhitespace(text.charAt(j))) {
            j--;
        }
        return j >= 0 && (text.charAt(j) == '"' || text.charAt(j) == '\'');
    }

    /** The index after the closing mark, within {@link #MAX_QUOTE} characters (and on one line when {@code oneLine}), or -1. */
    private static int closing(String text, int from, char mark, boolean oneLine) {
        int limit = Math.min(text.length(), from + MAX_QUOTE);
        for (int j = from; j < limit; j++) {
            char c = text.charAt(j);
            if (c == mark) {
                return j + 1;
            }
            if (oneLine && c == '\n') {
                return -1;
            }
        }
        return -1;
    }

    // an apostrophe inside a word ("don't") opens nothing
    private static boolean opensSingleQuote(String text, int i) {
        return (i == 0 || !Character.isLetterOrDigit(text.charAt(i - 1)))
                && i + 1 < text.length() && !Character.isWhitespace(text.charAt(i + 1));
    }

    private static int closingSingleQuote(String text, int from) {
        int limit = Math.min(text.length(), from + MAX_QUOTE);
        for (int j = from; j < limit; j++) {
            char c = text.charAt(j);
            if (c == '\n') {
                return -1;
            }
            if (c == '\'' && (j + 1 == text.length() || !Character.isLetterOrDigit(text.charAt(j + 1)))) {
                return j + 1;
            }
        }
        return -1;
    }
}
