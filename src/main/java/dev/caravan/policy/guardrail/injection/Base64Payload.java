package dev.caravan.policy.guardrail.injection;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Base64 runs that decode to readable text: {@code base64-payload} when that text trips a rule ("aWdub3JlIGFsbC…"
 * is "ignore all…"), and a window of its own for the semantic detector either way. Base64 of an image, a key, a
 * JWT or a harmless sentence decodes to bytes that are not text or to text no rule objects to, so it passes.
 *
 * <p>Bounded: at most {@link #MAX_RUNS} runs per text are decoded, each cut to {@link #MAX_RUN_CHARS} characters.
 */
final class Base64Payload {

    /** Runs decoded per text: a prompt carries one or two; a text with hundreds is data, and the first ones tell. */
    static final int MAX_RUNS = 8;
    /** Characters decoded per run (12 KB of payload): an instruction needs far fewer. */
    static final int MAX_RUN_CHARS = 16_384;
    /** The shortest run tried: 20 characters are 15 bytes, "ignore the rules" is 16. */
    static final int MIN_RUN_CHARS = 20;

    private Base64Payload() {
    }

    /** The readable texts that base64 runs in {@code text} decode to, at most {@link #MAX_RUNS}. */
    static List<String> decodedTexts(String text) {
        List<String> out = new ArrayList<>(0);
        if (text.length() < MIN_RUN_CHARS) {
            return out;
        }
        int tried = 0;
        int i = 0;
        while (tried < MAX_RUNS && i < text.length()) {
            if (!isBase64(text.charAt(i))) {
                i++;
                continue;
            }
            int start = i;
            while (i < text.length() && isBase64(text.charAt(i))) {
                i++;
            }
            int end = i;
            while (i < text.length() && i - end < 2 && text.charAt(i) == '=') {
                i++;
            }
            boolean bounded = (start == 0 || text.charAt(start - 1) != '=') && (i == text.length() || !isBase64(text.charAt(i)) && text.charAt(i) != '=');
            if (end - start < MIN_RUN_CHARS || !bounded) {
                continue;
            }
            String run = text.substring(start, Math.min(end, start + MAX_RUN_CHARS));
            if (!mixesCharacters(run)) {
                continue; // a word, a hex digest or a long identifier: not base64 worth decoding
            }
            tried++;
            String decoded = decode(run);
            if (decoded != null) {
                out.add(decoded);
            }
        }
        return out;
    }

    private static boolean isBase64(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '_' || c == '-';
    }

    /** Upper and lower case letters and a digit or a symbol: what base64 of text looks like and a word does not. */
    private static boolean mixesCharacters(String run) {
        boolean upper = false;
        boolean lower = false;
        boolean other = false;
        for (int i = 0; i < run.length(); i++) {
            char c = run.charAt(i);
            upper |= c >= 'A' && c <= 'Z';
            lower |= c >= 'a' && c <= 'z';
            other |= !(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z');
        }
        return upper && lower && other;
    }

    /** The run decoded (standard or URL-safe alphabet, padded or not) when it is UTF-8 text that reads as words. */
    static String decode(String run) {
        String body = run.replace('-', '+').replace('_', '/');
        int padding = body.indexOf('=');
        body = padding < 0 ? body : body.substring(0, padding);
        if (body.length() % 4 == 1) {
            body = body.substring(0, body.length() - 1); // one character past a quantum cannot be base64: drop it
        }
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(body + "==".substring(0, (4 - body.length() % 4) % 4));
        } catch (IllegalArgumentException notBase64) {
            return null;
        }
        String decoded;
        try {
            decoded = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException notText) {
            return null;
        }
        return readsAsWords(decoded) ? decoded : null;
    }

    /** At least 90 % letters, digits, spaces and punctuation, no control characters, and at least two spaces. */
    private static boolean readsAsWords(String s) {
        int readable = 0;
        int spaces = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isISOControl(c) && c != '\n' && c != '\r' && c != '\t') {
                return false;
            }
            if (Character.isLetterOrDigit(c) || Character.isWhitespace(c) || ".,;:!?'\"()-+/=".indexOf(c) >= 0) {
                readable++;
            }
            spaces += c == ' ' ? 1 : 0;
        }
        return spaces >= 2 && readable >= 0.9 * s.length();
    }
}
