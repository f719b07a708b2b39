package dev.caravan.policy.guardrail.injection;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A request's texts cut into what the semantic detector embeds. A text of up to {@link #WINDOW_CHARS} characters is
 * one window; a longer one (a document in a tool result) is cut at sentence ends into windows of at most that many,
 * so an instruction buried in a page is compared on its own instead of averaged into the page. Base64 runs that
 * decode to text add a window each.
 *
 * <p>A text that discusses attacks has its quotations and code masked first ({@link Quotes#maskQuoted}), as the
 * rules shield them: "what does 'ignore previous instructions' mean?" is embedded as the question it is. Its
 * de-identification placeholders are replaced by ordinary values ({@link Deidentified}), as the exemplars' are.
 *
 * <p>Bounded: at most {@link #MAX_WINDOWS} windows are embedded per request (each costs 3-8 ms of CPU), cut from at
 * most the first {@link #MAX_CHARS_PER_TEXT} characters of each text. When a request has more, the windows with the
 * most attack-flavoured words ({@link #CUES}: "ignore", "instructions", "assistant", "send"...) are kept, later texts
 * before earlier ones on a tie (the newest message and tool result are what this request adds). A document whose
 * injection uses none of those words, past the sixteenth window, is not embedded; the rules still read all of it.
 */
final class Windows {

    /** Characters per window: one to three sentences, short enough that one instruction dominates its vector. */
    static final int WINDOW_CHARS = 300;
    /**
     * Windows embedded per request: an embed of 300 characters costs MiniLM 5-8 ms, so 16 are about 100 ms of CPU,
     * spread over the CPU pool (a 1 KB prompt, four windows: p50 11-19 ms on this 2-core VM).
     */
    static final int MAX_WINDOWS = 16;
    /** Characters of one text cut into windows (about 850 windows before selection). */
    static final int MAX_CHARS_PER_TEXT = 256 * 1024;

    private static final Pattern SENTENCE_END = Pattern.compile("(?<=[.!?;:。！？])\\s+|\\s*\\n\\s*");
    private static final Set<String> CUES = Set.of("ignore", "ignoring", "disregard", "forget", "override", "bypass", "instruction",
            "instructions", "prompt", "system", "assistant", "ai", "model", "llm", "chatbot", "agent", "you", "your", "must", "now",
            "reveal", "send", "forward", "email", "password", "secret", "credentials", "token", "key", "rules", "pretend", "act",
            "jailbreak", "developer", "mode", "execute", "run", "command", "urgent", "important", "note", "attention", "previous",
            "above", "restrictions", "url", "link", "http", "https", "new", "task", "instead", "do", "not", "tell", "user");

    private Windows() {
    }

    private record Window(String text, int cues, int textIndex, int position) {
    }

    /** The windows to embed for {@code texts}, at most {@link #MAX_WINDOWS}, in the order of the texts. */
    static List<String> of(List<String> texts) {
        List<Window> all = new ArrayList<>();
        for (int t = 0; t < texts.size(); t++) {
            String text = texts.get(t);
            if (text == null || text.isBlank()) {
                continue;
            }
            String visible = Folded.forEmbedding(text.length() > MAX_CHARS_PER_TEXT ? text.substring(0, MAX_CHARS_PER_TEXT) : text);
            int position = 0;
            for (String w : cut(Quotes.maskQuoted(Deidentified.normalize(visible)).strip())) {
                all.add(new Window(w, cues(w), t, position++));
            }
            for (String decoded : Base64Payload.decodedTexts(visible)) {
                for (String w : cut(Folded.forEmbedding(decoded).strip())) {
                    all.add(new Window(w, cues(w) + 1, t, position++)); // hidden in base64: ahead of plain text on a tie
                }
            }
        }
        if (all.size() > MAX_WINDOWS) {
            all.sort(Comparator.comparingInt(Window::cues).reversed()
                    .thenComparing(Comparator.comparingInt(Window::textIndex).reversed())
                    .thenComparingInt(Window::position));
            all = new ArrayList<>(all.subList(0, MAX_WINDOWS));
            all.sort(Comparator.comparingInt(Window::textIndex).thenComparingInt(Window::position));
        }
        return all.stream().map(Window::text).toList();
    }

    /** An exemplar as it is embedded: folded and with its placeholders replaced, like a window. */
    static String embeddable(String text) {
        return Deidentified.normalize(Folded.forEmbedding(text));
    }

    /**
     * A window's length in words: runs of letters or digits, each ideograph, kana or hangul syllable counted as one
     * (Chinese and Japanese put no spaces between words).
     */
    static int words(String window) {
        int count = 0;
        boolean inWord = false;
        for (int i = 0; i < window.length(); ) {
            int c = window.codePointAt(i);
            i += Character.charCount(c);
            Character.UnicodeScript script = Character.UnicodeScript.of(c);
            if (Character.isIdeographic(c) || script == Character.UnicodeScript.HIRAGANA
                    || script == Character.UnicodeScript.KATAKANA || script == Character.UnicodeScript.HANGUL) {
                count++;
                inWord = false;
            } else if (Character.isLetterOrDigit(c)) {
                count += inWord ? 0 : 1;
                inWord = true;
            } else {
                inWord = false;
            }
        }
        return count;
    }

    /** {@code text} in windows of at most {@link #WINDOW_CHARS}, cut at sentence ends, else at spaces. */
    static List<String> cut(String text) {
        if (text.isEmpty()) {
            return List.of();
        }
        if (text.length() <= WINDOW_CHARS) {
            return List.of(text);
        }
        List<String> windows = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String sentence : SENTENCE_END.split(text)) {
            if (sentence.isBlank()) {
                continue;
            }
            if (current.length() > 0 && current.length() + 1 + sentence.length() > WINDOW_CHARS) {
                windows.add(current.toString());
                current.setLength(0);
            }
            while (sentence.length() > WINDOW_CHARS) { // one very long sentence: cut at the last space that fits
                int cut = sentence.lastIndexOf(' ', WINDOW_CHARS);
                cut = cut > WINDOW_CHARS / 2 ? cut : WINDOW_CHARS;
                windows.add(sentence.substring(0, cut).strip());
                sentence = sentence.substring(cut).strip();
            }
            if (current.length() > 0) {
                current.append(' ');
            }
            current.append(sentence);
        }
        if (current.length() > 0) {
            windows.add(current.toString());
        }
        return windows;
    }

    /** How many of {@link #CUES} the window holds, counted once per occurrence. */
    private static int cues(String window) {
        int count = 0;
        int start = -1;
        String lower = window.toLowerCase(Locale.ROOT);
        for (int i = 0; i <= lower.length(); i++) {
            boolean letter = i < lower.length() && Character.isLetter(lower.charAt(i));
            if (letter && start < 0) {
                start = i;
            } else if (!letter && start >= 0) {
                count += CUES.contains(lower.substring(start, i)) ? 1 : 0;
                start = -1;
            }
        }
        return count;
    }
}
