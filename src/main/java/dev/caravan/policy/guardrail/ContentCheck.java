package dev.caravan.policy.guardrail;

import dev.caravan.policy.guardrail.pii.Entity;
import dev.caravan.policy.guardrail.pii.Finding;
import dev.caravan.policy.guardrail.pii.PiiDetector;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One guardrail policy's content check: its PII entities ({@code Hit("pii", "email")}) and its operator deny
 * patterns ({@code Hit("deny", "pattern-2")} for the second), merged so hits never overlap (the longer wins; at equal
 * length a PII finding before a deny match).
 *
 * <p>In a stream, {@link #holdFrom} decides how much of the answer must wait: only what could still become a hit, so
 * plain prose is held by at most its last, unfinished word (see there). Deny patterns are arbitrary regexes: of the
 * last {@code denyLookahead} characters (64 by default), what could still begin a deny match is held as well (a
 * start from which the pattern reads to the end of the text so far, {@link Matcher#hitEnd}); a deny match longer
 * than that is not guaranteed to be caught in a stream (its start may have been released before its end arrived),
 * only in whole answers.
 */
public final class ContentCheck implements TextCheck {

    public static final int DEFAULT_DENY_LOOKAHEAD = 64;

    /**
     * The most a stream is held back for this check. A PEM private-key block is one hit from BEGIN to END and must be
     * held whole: an RSA-4096 key is about 3.3 KB of PEM (RSA-2048 about 1.7 KB, EC keys 250 chars), so 4 KB covers
     * the largest keys in use. Past it, the older text is released (scanned): a longer key block or a JWT over 4 KB
     * may then be released in part.
     */
    public static final int MAX_HOLD = 4096;

    /**
     * The longest entity that spans words: a card is at most 23 digits and 22 separators (45 chars), a phone span 44,
     * an IBAN 43, an SSN 11; 48 leaves a margin. Words further back than this can no longer be part of one that is
     * still growing.
     */
    static final int MAX_GROUPED_SPAN = 48;

    /** A key header ("-----BEGIN ENCRYPTED PRIVATE KEY-----" is 37) still being written is held this long at most. */
    private static final int MAX_KEY_HEADER = 80;
    private static final String BEGIN = "-----BEGIN";
    private static final Pattern KEY_BEGIN = Pattern.compile("-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----");
    private static final Pattern KEY_END = Pattern.compile("-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----");
    private static final Set<Entity> GROUPED = EnumSet.of(Entity.CARD, Entity.PHONE, Entity.IBAN, Entity.SSN);
    private static final int NONE = Integer.MAX_VALUE;

    private final PiiDetector detector;
    private final Set<Entity> entities;
    private final List<Pattern> deny;
    private final int denyLookahead;
    private final boolean grouped;  // an entity that spans words is checked
    private final boolean keys;     // secrets are checked: private-key blocks span lines

    /** With deny patterns, the last {@value #DEFAULT_DENY_LOOKAHEAD} characters of a stream are always held. */
    public ContentCheck(PiiDetector detector, Set<Entity> entities, List<Pattern> deny) {
        this(detector, entities, deny, DEFAULT_DENY_LOOKAHEAD);
    }

    /** @param denyLookahead characters of a stream always held when deny patterns are configured, 0 to {@value #MAX_HOLD} */
    public ContentCheck(PiiDetector detector, Set<Entity> entities, List<Pattern> deny, int denyLookahead) {
        if (denyLookahead < 0 || denyLookahead > MAX_HOLD) {
            throw new IllegalArgumentException("denyLookahead must be 0 to " + MAX_HOLD + ", not " + denyLookahead);
        }
        this.detector = detector;
        this.entities = entities.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(entities));
        this.deny = List.copyOf(deny);
        this.denyLookahead = denyLookahead;
        this.grouped = this.entities.stream().anyMatch(GROUPED::contains);
        this.keys = this.entities.contains(Entity.SECRET);
    }

    @Override
    public List<Hit> scan(String text) {
        if (text == null || text.isEmpty()) {
            return List.of();
        }
        List<Finding> findings = detector.find(text, entities);
        if (deny.isEmpty()) {
            List<Hit> hits = new ArrayList<>(findings.size());
            for (Finding f : findings) {
                hits.add(new Hit(f.start(), f.end(), "pii", f.entity().configName()));
            }
            return hits;
        }
        List<Hit> all = new ArrayList<>(findings.size() + 2);
        for (Finding f : findings) {
            all.add(new Hit(f.start(), f.end(), "pii", f.entity().configName()));
        }
        for (int i = 0; i < deny.size(); i++) {
            Matcher m = deny.get(i).matcher(text);
            while (m.find()) {
                if (m.end() > m.start()) {
                    all.add(new Hit(m.start(), m.end(), "deny", "pattern-" + (i + 1)));
                }
            }
        }
        return all.size() <= 1 ? all : nonOverlapping(all);
    }

    /** Longest first, PII before deny at equal length, then earliest; each kept only if it overlaps none kept. */
    static List<Hit> nonOverlapping(List<Hit> hits) {
        List<Hit> sorted = new ArrayList<>(hits);
        sorted.sort(Comparator.comparingInt((Hit h) -> h.end() - h.start()).reversed()
                .thenComparing(h -> !h.guard().equals("pii"))
                .thenComparingInt(Hit::start));
        TreeMap<Integer, Hit> kept = new TreeMap<>();
        for (Hit h : sorted) {
            Map.Entry<Integer, Hit> before = kept.floorEntry(h.end() - 1);
            if (before == null || before.getValue().end() <= h.start()) {
                kept.put(h.start(), h);
            }
        }
        return new ArrayList<>(kept.values());
    }

    /**
     * The earliest of:
     * <ul>
     * <li>the trailing partial word (after the last whitespace): "jane" may become "jane@x.com", "sk-" a key;
     * nothing when the text ends in whitespace, as no single-word entity crosses it;</li>
     * <li>when that word could still be a group of a multi-word entity (only digits, capitals and "+().-/", or empty)
     * and cards, phones, IBANs or SSNs are checked: the earliest word with a digit among the space-separated such
     * words before it, within {@link #MAX_GROUPED_SPAN} of the end ("4111 1111 " of "4111 1111 11");</li>
     * <li>with secrets checked: an unterminated "-----BEGIN ... PRIVATE KEY-----" block (or a BEGIN header still
     * being written), until its END line has arrived and been followed by whitespace;</li>
     * <li>with deny patterns: the earliest start within the last {@code denyLookahead} characters from which a
     * pattern could still match with more text, and the start of a deny match that reaches the end;</li>
     * </ul>
     * never more than {@link #MAX_HOLD} before the end. Every single-word PII entity lies in the last word and every
     * multi-word one consists of such groups, so a PII hit that reaches the end is inside what these rules hold.
     * Cost: a backward walk over the last word and at most 48 chars, one {@code lastIndexOf} with secrets on, the
     * deny regexes over the held text; no PII recognizer runs.
     */
    @Override
    public int holdFrom(CharSequence text) {
        int len = text.length();
        if (entities.isEmpty() && deny.isEmpty()) {
            return len;
        }
        int floor = Math.max(0, len - MAX_HOLD);
        int tail = len;
        boolean groupTail = true;
        while (tail > floor && !Character.isWhitespace(text.charAt(tail - 1))) {
            groupTail &= isGroupChar(text.charAt(tail - 1));
            tail--;
        }
        int hold = tail;
        if (grouped && groupTail) {
            hold = Math.min(hold, groupsBefore(text, tail, Math.max(floor, len - MAX_GROUPED_SPAN)));
        }
        if (keys) {
            hold = Math.min(hold, openKeyBlock(text, floor, tail));
        }
        if (!deny.isEmpty()) {
            hold = Math.min(hold, Math.min(denyPrefixAtEnd(text, Math.max(floor, len - denyLookahead)),
                    denyReachingEnd(text, floor)));
        }
        return Math.max(hold, floor);
    }

    @Override
    public int maxHold() {
        return MAX_HOLD;
    }

    /** What a group of a card, phone, IBAN or SSN may be made of (NBSP too: phone spans allow it, it is no whitespace). */
    private static boolean isGroupChar(char c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
                || c == '+' || c == '(' || c == ')' || c == '.' || c == '-' || c == '/' || c == '\u00A0';
    }

    /**
     * Walks back from {@code p} (a word start) over space-separated words of group characters, no further than
     * {@code limit}; returns the start of the earliest one holding a digit (every such entity starts with a digit
     * group: "4111", "+44", "(415)", "DE89"), or NONE. A word with other characters ends the walk, though its
     * trailing group characters count ("card:4111").
     */
    private static int groupsBefore(CharSequence text, int p, int limit) {
        int from = NONE;
        while (p > limit) {
            int q = p;
            while (q > limit && text.charAt(q - 1) == ' ') {
                q--;
            }
            if (q == p || q <= limit || Character.isWhitespace(text.charAt(q - 1))) {
                break; // a line break or tab: no such entity spans it
            }
            int w = q;
            boolean whole = true;
            boolean digit = false;
            while (w > limit) {
                char c = text.charAt(w - 1);
                if (Character.isWhitespace(c)) {
                    break;
                }
                if (!isGroupChar(c)) {
                    whole = false;
                    break;
                }
                digit |= c >= '0' && c <= '9';
                w--;
            }
            if (whole && w == limit && w > 0 && !Character.isWhitespace(text.charAt(w - 1))) {
                break; // the word starts further back than an entity still growing can
            }
            if (digit) {
                from = w;
            }
            if (!whole) {
                break;
            }
            p = w;
        }
        return from;
    }

    /** The start of the last BEGIN of a private-key block whose END has not arrived (or is the last word), or NONE. */
    private static int openKeyBlock(CharSequence chars, int floor, int tail) {
        String text = chars.toString();
        int len = text.length();
        int begin = text.lastIndexOf(BEGIN);
        if (begin < floor) {
            return NONE;
        }
        int headerEnd = text.indexOf("-----", begin + BEGIN.length());
        if (headerEnd < 0) { // the header is still being written: hold while it can still name a private key
            if (len - begin > MAX_KEY_HEADER) {
                return NONE;
            }
            for (int i = begin + BEGIN.length(); i < len; i++) {
                char c = text.charAt(i);
                if (!(c == ' ' || c == '-' || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
                    return NONE;
                }
            }
            return begin;
        }
        Matcher header = KEY_BEGIN.matcher(text).region(begin, len);
        if (!header.lookingAt()) {
            return NONE; // a certificate or public key: not a secret
        }
        Matcher end = KEY_END.matcher(text).region(header.end(), len);
        return !end.find() || end.end() > tail ? begin : NONE;
    }

    /** The earliest start of a deny match that ends where the text ends (it may still grow), or NONE. */
    /**
     * The earliest start in the last {@code denyLookahead} characters from which a deny pattern reads up to the end
     * of the text and could still match with what is yet to come ({@link Matcher#hitEnd}): only a real prefix of a
     * possible match is held, not a fixed window, so prose that cannot begin one is released at once.
     */
    private int denyPrefixAtEnd(CharSequence text, int from) {
        int len = text.length();
        int earliest = len;
        for (Pattern p : deny) {
            Matcher m = p.matcher(text).useTransparentBounds(true).useAnchoringBounds(false);
            for (int start = from; start < earliest; start++) { // later patterns need only look before the earliest
                m.region(start, len);
                if (m.lookingAt() ? m.end() == len || m.hitEnd() : m.hitEnd()) {
                    earliest = start;
                    break;
                }
            }
        }
        return earliest;
    }

    private int denyReachingEnd(CharSequence text, int floor) {
        int len = text.length();
        int from = NONE;
        for (Pattern p : deny) {
            Matcher m = p.matcher(text).region(floor, len).useTransparentBounds(true).useAnchoringBounds(false);
            while (m.find()) {
                if (m.end() == len && m.end() > m.start()) {
                    from = Math.min(from, m.start());
                    break;
                }
            }
        }
        return from;
    }
}
