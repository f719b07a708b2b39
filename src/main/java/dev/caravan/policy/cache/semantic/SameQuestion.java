package dev.caravan.policy.cache.semantic;

import dev.caravan.policy.cache.semantic.QuestionTerms.Kind;
import dev.caravan.policy.cache.semantic.QuestionTerms.Term;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The semantic cache's second opinion: a near neighbour in embedding space is not an answer until this says the
 * two prompts ask the same thing. Embeddings score a question and its negation, its antonym or its reversal as
 * near neighbours (all-MiniLM-L6-v2 scores "How do I enable 2FA?" against "How do I disable 2FA?" 0.88, above "How
 * do I turn on 2FA?" at 0.87; swapped roles score 0.99), so this checks, in order, that:
 * <ol>
 *   <li>the numbers agree, as multisets ("2 cups" is not "3 cups"; "two" is 2, "one hundred forty-four" is 144);</li>
 *   <li>the units and currencies agree (miles are not kilometres, dollars not euros);</li>
 *   <li>the negations agree in number ("not", "never", "without", "n't", "cannot"...);</li>
 *   <li>when both sides have auxiliary verbs, their tense agrees ("who was" is not "who is", "did it ship" not
 *       "will it ship"), and "can" on one side is not "should" on the other;</li>
 *   <li>no word on one side has its opposite on the other (enable/disable, before/after, mount/unmount);</li>
 *   <li>every entity, identifier and operator of either side is on the other (Python is not Java,
 *       useEffect not useState, "+" not "-");</li>
 *   <li>every content word of either side is matched on the other, up to stemming and a general synonym lexicon
 *       ({@link Lexicon}); a substituted word is a miss;</li>
 *   <li>the roles agree: no two terms trade places around the same middle ("Spain beat Italy" / "Italy beat
 *       Spain"), and what follows each "to", "from", "than", "by" is the same, give or take one modifier ("convert
 *       X to Y" is not "convert Y to X"; "from a list in Python" is "from a Python list").</li>
 * </ol>
 * What it does not understand it refuses: a paraphrase with other words ("speed up" for "run faster") is a miss.
 * Known blind spot: roles carried only by pronouns and possessives, which it drops ("may my employer read my
 * email" and "may I read my employer's email" agree here); the embedding threshold is the only guard there.
 * Prompts longer than {@link SemanticIndex#MAX_PROMPT_CHARS} are refused: checking two short questions takes about
 * 0.1 ms on this machine, two 2 KiB prompts 1-1.5 ms, and the cost grows with length.
 */
public final class SameQuestion {

    /** Whether two prompts ask the same thing, and why not (or what agreed), for the debug log. */
    public record Verdict(boolean same, String reason) {
    }

    private static final Set<String> NOT_CONTENT = Set.of("to", "by"); // infinitive and passive uses dominate

    private static final Map<String, Set<String>> OPPOSITES = opposites();

    private SameQuestion() {
    }

    /** {@link #check}'s answer alone. */
    public static boolean sameQuestion(String a, String b) {
        return check(a, b).same();
    }

    public static Verdict check(String a, String b) {
        if (a.length() > SemanticIndex.MAX_PROMPT_CHARS || b.length() > SemanticIndex.MAX_PROMPT_CHARS) {
            return new Verdict(false, "too long to verify");
        }
        QuestionTerms x = QuestionTerms.of(a);
        QuestionTerms y = QuestionTerms.of(b);
        if (x.terms().isEmpty() || y.terms().isEmpty()) {
            return new Verdict(false, "nothing to compare");
        }
        Verdict v = numbers(x, y);
        if (v == null) {
            v = units(x, y);
        }
        if (v == null && x.negations() != y.negations()) {
            v = new Verdict(false, "negation: " + x.negations() + " vs " + y.negations());
        }
        if (v == null) {
            v = frame(x, y);
        }
        if (v == null) {
            v = antonyms(x, y);
        }
        if (v == null) {
            v = unmatched(x, y);
        }
        if (v == null) {
            v = roles(x, y);
        }
        return v != null ? v : new Verdict(true, "same: " + x.terms().size() + " terms agree");
    }

    private static Verdict numbers(QuestionTerms x, QuestionTerms y) {
        Map<String, Integer> a = counts(x, Kind.NUMBER);
        Map<String, Integer> b = counts(y, Kind.NUMBER);
        return a.equals(b) ? null : new Verdict(false, "number: " + words(x, Kind.NUMBER) + " vs "
                + words(y, Kind.NUMBER));
    }

    private static Verdict units(QuestionTerms x, QuestionTerms y) {
        Set<String> a = counts(x, Kind.UNIT).keySet();
        Set<String> b = counts(y, Kind.UNIT).keySet();
        return a.equals(b) ? null : new Verdict(false, "unit: " + words(x, Kind.UNIT) + " vs " + words(y, Kind.UNIT));
    }

    /** Tense and modality, judged only where both sides mark them: "Reset my password" has none to compare. */
    private static Verdict frame(QuestionTerms x, QuestionTerms y) {
        Set<String> a = x.markers();
        Set<String> b = y.markers();
        if (!a.contains(QuestionTerms.AUX) || !b.contains(QuestionTerms.AUX)) {
            return null;
        }
        for (String tense : List.of(QuestionTerms.PAST, QuestionTerms.FUTURE)) {
            if (a.contains(tense) != b.contains(tense)) {
                return new Verdict(false, "tense: " + (a.contains(tense) ? tense : "not " + tense) + " vs "
                        + (b.contains(tense) ? tense : "not " + tense));
            }
        }
        boolean permissionOnly = onlyOne(a, QuestionTerms.PERMISSION, QuestionTerms.OBLIGATION);
        boolean obligationOnly = onlyOne(a, QuestionTerms.OBLIGATION, QuestionTerms.PERMISSION);
        if ((permissionOnly && onlyOne(b, QuestionTerms.OBLIGATION, QuestionTerms.PERMISSION))
                || (obligationOnly && onlyOne(b, QuestionTerms.PERMISSION, QuestionTerms.OBLIGATION))) {
            return new Verdict(false, "modality: " + (permissionOnly ? "can" : "should") + " vs "
                    + (permissionOnly ? "should" : "can"));
        }
        return null;
    }

    private static boolean onlyOne(Set<String> markers, String present, String absent) {
        return markers.contains(present) && !markers.contains(absent);
    }

    private static Verdict antonyms(QuestionTerms x, QuestionTerms y) {
        Set<String> a = keys(x);
        Set<String> b = keys(y);
        for (Term t : x.terms()) {
            for (String opposite : OPPOSITES.getOrDefault(t.key(), Set.of())) {
                if (b.contains(opposite) && !a.contains(opposite) && !b.contains(t.key())) {
                    return new Verdict(false, "antonym: " + t.word() + " vs " + wordFor(y, opposite));
                }
            }
        }
        // un-, dis-, il-... : "mount"/"unmount", "paid"/"unpaid"
        for (QuestionTerms[] pair : new QuestionTerms[][]{{x, y}, {y, x}}) {
            Set<String> mine = keys(pair[0]);
            Set<String> theirs = keys(pair[1]);
            for (Term t : pair[0].terms()) {
                if (theirs.contains(t.key())) {
                    continue;
                }
                for (String prefix : Lexicon.NEGATING_PREFIXES) {
                    if (t.word().length() > prefix.length() + 2 && t.word().startsWith(prefix)) {
                        String base = QuestionTerms.canonical(t.word().substring(prefix.length()));
                        if (theirs.contains(base) && !mine.contains(base)) {
                            return new Verdict(false, "antonym: " + t.word() + " vs " + wordFor(pair[1], base));
                        }
                    }
                }
            }
        }
        return null;
    }

    /** A term of one side whose key is not among the other's: an entity, identifier, operator or content word. */
    private static Verdict unmatched(QuestionTerms x, QuestionTerms y) {
        List<Term> onlyX = missing(x, keys(y));
        List<Term> onlyY = missing(y, keys(x));
        if (onlyX.isEmpty() && onlyY.isEmpty()) {
            return null;
        }
        Term first = !onlyX.isEmpty() ? onlyX.get(0) : onlyY.get(0);
        for (Term t : onlyX.isEmpty() ? onlyY : onlyX) { // a strict term explains a miss best
            if (t.kind() != Kind.WORD && t.kind() != Kind.RELATION) {
                first = t;
                break;
            }
        }
        String label = switch (first.kind()) {
            case ENTITY -> "entity";
            case IDENTIFIER -> "identifier";
            case OPERATOR -> "operator";
            default -> "content word";
        };
        return new Verdict(false, label + ": " + describe(onlyX) + " vs " + describe(onlyY));
    }

    private static List<Term> missing(QuestionTerms side, Set<String> other) {
        List<Term> out = new ArrayList<>();
        for (Term t : side.terms()) {
            if (matchable(t) && !other.contains(t.key())) {
                out.add(t);
            }
        }
        return out;
    }

    /**
     * Same terms, other roles: two terms that trade places around the same non-empty middle ("the landlord sue the
     * tenant" / "the tenant sue the landlord"), or a relation word followed by another term ("to Y" / "to X").
     */
    private static Verdict roles(QuestionTerms x, QuestionTerms y) {
        for (String relation : Lexicon.RELATIONS) {
            List<List<String>> after1 = followers(x, relation);
            List<List<String>> after2 = followers(y, relation);
            if (after1.isEmpty() || after1.size() != after2.size()) {
                continue;
            }
            for (int i = 0; i < after1.size(); i++) {
                // the term right after "to" on one side must be at most one term further on the other, so that
                // "from a list in Python" and "from a Python list" agree while "X to Y" and "Y to X" do not
                List<String> p = after1.get(i);
                List<String> q = after2.get(i);
                if (!p.isEmpty() && !q.isEmpty() && (!q.contains(p.get(0)) || !p.contains(q.get(0)))) {
                    return new Verdict(false, "roles: " + relation + " " + wordFor(x, p.get(0)) + " vs " + relation
                            + " " + wordFor(y, q.get(0)));
                }
            }
        }
        return swapped(x, y);
    }

    /** Two once-only terms in the opposite order on the other side with the same terms between them. */
    private static Verdict swapped(QuestionTerms x, QuestionTerms y) {
        List<String> s = sequence(x);
        List<String> t = sequence(y);
        if (s.equals(t)) {
            return null;
        }
        Map<String, Integer> inT = onlyOnce(t);
        Map<String, Integer> inS = onlyOnce(s);
        // for each position of s, where its term stands in t (-1: not once-only on both sides, or not a candidate)
        int[] at = new int[s.size()];
        boolean[] number = new boolean[s.size()];
        for (int i = 0; i < s.size(); i++) {
            Integer j = inS.containsKey(s.get(i)) ? inT.get(s.get(i)) : null;
            at[i] = j == null || Lexicon.RELATIONS.contains(s.get(i)) ? -1 : j;
            number[i] = x.terms().get(i).isNumber();
        }
        for (int u = 0; u < at.length; u++) {
            if (at[u] < 0) {
                continue;
            }
            for (int v = u + 2; v < at.length; v++) {
                int tu = at[u];
                int tv = at[v];
                if (tv < 0 || tu - tv < 2 || number[u] != number[v]) {
                    continue;
                }
                List<String> middle = s.subList(u + 1, v);
                if (middle.equals(t.subList(tv + 1, tu))) {
                    return new Verdict(false, "roles: " + x.terms().get(u).word() + " and " + x.terms().get(v).word()
                            + " swapped around " + middle.stream().map(k -> wordFor(x, k)).toList());
                }
            }
        }
        return null;
    }

    /** For each {@code relation} in {@code q}, the (up to) two terms after it. */
    private static List<List<String>> followers(QuestionTerms q, String relation) {
        List<List<String>> out = new ArrayList<>();
        List<Term> terms = q.terms();
        for (int i = 0; i < terms.size(); i++) {
            if (terms.get(i).kind() == Kind.RELATION && terms.get(i).key().equals(relation)) {
                List<String> next = new ArrayList<>(2);
                for (int j = i + 1; j < Math.min(i + 3, terms.size()); j++) {
                    next.add(terms.get(j).key());
                }
                out.add(next);
            }
        }
        return out;
    }

    private static List<String> sequence(QuestionTerms q) {
        return q.terms().stream().map(Term::key).toList();
    }

    /** Keys that occur exactly once, with their position. */
    private static Map<String, Integer> onlyOnce(List<String> keys) {
        Map<String, Integer> first = new LinkedHashMap<>();
        Set<String> repeated = new HashSet<>();
        for (int i = 0; i < keys.size(); i++) {
            if (first.putIfAbsent(keys.get(i), i) != null) {
                repeated.add(keys.get(i));
            }
        }
        first.keySet().removeAll(repeated);
        return first;
    }

    private static boolean matchable(Term t) {
        return t.kind() != Kind.NUMBER && t.kind() != Kind.UNIT
                && !(t.kind() == Kind.RELATION && NOT_CONTENT.contains(t.key()));
    }

    private static Set<String> keys(QuestionTerms q) {
        Set<String> out = new HashSet<>();
        for (Term t : q.terms()) {
            if (matchable(t)) {
                out.add(t.key());
            }
        }
        return out;
    }

    private static Map<String, Integer> counts(QuestionTerms q, Kind kind) {
        Map<String, Integer> out = new HashMap<>();
        for (Term t : q.terms()) {
            if (t.kind() == kind) {
                out.merge(t.key(), 1, Integer::sum);
            }
        }
        return out;
    }

    private static List<String> words(QuestionTerms q, Kind kind) {
        return q.terms().stream().filter(t -> t.kind() == kind).map(Term::word).toList();
    }

    private static String wordFor(QuestionTerms q, String key) {
        return q.terms().stream().filter(t -> t.key().equals(key)).map(Term::word).findFirst().orElse(key);
    }

    /** At most five words: a reason is a line of a debug log. */
    private static String describe(List<Term> terms) {
        if (terms.isEmpty()) {
            return "-";
        }
        String shown = terms.stream().limit(5).map(Term::word).collect(Collectors.joining(", "));
        return "[" + shown + (terms.size() > 5 ? ", +" + (terms.size() - 5) + " more" : "") + "]";
    }

    private static Map<String, Set<String>> opposites() {
        Map<String, Set<String>> out = new HashMap<>();
        for (List<String> pair : Lexicon.ANTONYMS) {
            String a = QuestionTerms.canonical(pair.get(0));
            String b = QuestionTerms.canonical(pair.get(1));
            if (!a.equals(b)) {
                out.computeIfAbsent(a, k -> new HashSet<>()).add(b);
                out.computeIfAbsent(b, k -> new HashSet<>()).add(a);
            }
        }
        out.replaceAll((k, v) -> Set.copyOf(v));
        return Map.copyOf(out);
    }
}
