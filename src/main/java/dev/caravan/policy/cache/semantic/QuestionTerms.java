package dev.caravan.policy.cache.semantic;

import java.math.BigInteger;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A prompt as {@link SameQuestion} compares it: its terms in order, each typed (number, unit, identifier, entity,
 * operator, relation word, content word) with the key it matches on, its count of negations, and the tense and
 * modality its auxiliary verbs mark ("was" is past, "will" future, "can" permission, "should" obligation). Politeness,
 * request framing ("can you", "how do I") and function words are gone; contractions are expanded, words are
 * lower-cased, lightly stemmed and mapped to their synonym set's first word, so "How can I remove duplicates?"
 * and "how do i delete duplicates" give the same terms.
 */
record QuestionTerms(List<Term> terms, int negations, Set<String> markers) {

    /** Markers: some auxiliary verb at all, past, future, permission or possibility, obligation or advice. */
    static final String AUX = "aux";
    static final String PAST = "past";
    static final String FUTURE = "future";
    static final String PERMISSION = "permission";
    static final String OBLIGATION = "obligation";

    enum Kind { NUMBER, UNIT, IDENTIFIER, ENTITY, OPERATOR, RELATION, WORD }

    /** One term: what kind, the key two prompts compare, and the word as written (lower case), for reasons. */
    record Term(Kind kind, String key, String word) {
        boolean isNumber() {
            return kind == Kind.NUMBER;
        }
    }

    // URL | e-mail | path | flag | number (currency, sign, separators, decimals, fraction, time/date, suffix) | word
    // (letters, digits and the joiners of code: ' . + # - : / @ _) | degree | operator | currency or percent sign
    private static final Pattern TOKEN = Pattern.compile(
            "(?<url>[A-Za-z][A-Za-z0-9+.-]*+://\\S+)" // possessive: a plain word fails here without backtracking
                    + "|(?<email>[\\w.+-]++@[\\w-]+(?:\\.[\\w-]+)+)"
                    + "|(?<path>(?<![\\S])(?:~|\\.{1,2})?/[\\w.\\-/]+)"
                    + "|(?<flag>(?<![\\S])--?[A-Za-z][\\w-]*)"
                    + "|(?<number>[$€£¥₹]?-?(?:\\d{1,3}(?:,\\d{3})+|\\d+)(?:\\.\\d+)*(?:/\\d+)?(?:[:\\-]\\d+)*"
                    + "(?:-?[\\p{L}%°]+)?)"
                    + "|(?<word>[\\p{L}\\p{N}_](?:[\\p{L}\\p{N}_'.+#\\-:/@]*[\\p{L}\\p{N}_+#])?)"
                    + "|(?<degree>°[CFcf]?)"
                    + "|(?<op>[<>=!]=|->|=>|[-+*/=<>^])"
                    + "|(?<sign>[$€£¥₹%])");

    private static final Pattern NUMBER = Pattern.compile(
            "(?<cur>[$€£¥₹])?(?<num>-?(?:\\d{1,3}(?:,\\d{3})+|\\d+)(?:\\.\\d+)*(?:/\\d+)?(?:[:\\-]\\d+)*)"
                    + "-?(?<suf>[\\p{L}%°]+)?");

    /** TOKEN's groups, in order, and the token type each gives. */
    private static final String[] GROUPS = {"url", "email", "path", "flag", "number", "word", "degree", "op", "sign"};
    private static final Type[] MATCHED = {Type.URL, Type.EMAIL, Type.PATH, Type.FLAG, Type.NUMBER, Type.WORD,
            Type.DEGREE, Type.OP, Type.SIGN};

    private static final String SENTENCE_END = ".?!:;\n";

    /** For the key of each word in a synonym set, the key of the set's first word. */
    private static final Map<String, String> SYNONYM_HEAD = synonymHeads();

    /** The lexicon's phrases by first word, longest first, so a token is checked against its few candidates. */
    private static final Map<String, List<String[]>> PHRASES = byFirstWord(Lexicon.PHRASES);
    private static final Map<String, List<String[]>> ENTITY_PHRASES = byFirstWord(Lexicon.ENTITY_PHRASES);

    static QuestionTerms of(String prompt) {
        List<Token> tokens = phrases(split(tokenize(prompt)));
        return classify(tokens);
    }

    /** The key a content word matches on: irregular form, alias, stem, synonym set. */
    static String canonical(String word) {
        String w = Lexicon.IRREGULAR.getOrDefault(word, word);
        w = Lexicon.ALIASES.getOrDefault(w, w);
        String s = stem(w);
        return SYNONYM_HEAD.getOrDefault(s, s);
    }

    // ---------------------------------------------------------------------------------------------- tokens

    private enum Type { URL, EMAIL, PATH, FLAG, NUMBER, WORD, DEGREE, OP, SIGN, PHRASE, ENTITY_PHRASE }

    /** A token: lower-cased text, its type, whether written with a capital, all in capitals, first of a sentence. */
    private record Token(String text, Type type, boolean capital, boolean allCaps, boolean sentenceStart,
            boolean codeLike) {
        static Token of(String text, Type type) {
            return new Token(text, type, false, false, false, false);
        }

        Token with(String newText) {
            return new Token(newText, type, capital, allCaps, sentenceStart, codeLike);
        }
    }

    private static List<Token> tokenize(String prompt) {
        String text = Normalizer.normalize(prompt, Normalizer.Form.NFKC)
                .replace('\u2019', '\'').replace('\u2018', '\'');
        List<Token> out = new ArrayList<>();
        Matcher m = TOKEN.matcher(text);
        int previousEnd = -1;
        int upper = 0;
        int words = 0;
        while (m.find()) {
            Type type = type(m);
            String raw = m.group();
            boolean start = previousEnd < 0 || endsSentence(text, previousEnd, m.start());
            previousEnd = m.end();
            if (type != Type.WORD) {
                out.add(new Token(raw.toLowerCase(Locale.ROOT), type, false, false, start, true));
                continue;
            }
            boolean capital = Character.isUpperCase(raw.codePointAt(0));
            boolean allCaps = raw.chars().filter(Character::isUpperCase).count() >= 2
                    && raw.chars().noneMatch(Character::isLowerCase); // JSON, AWS; not 密码, which has no case
            if (letters(raw) >= 2) {
                words++;
                upper += allCaps ? 1 : 0;
            }
            out.add(new Token(raw.toLowerCase(Locale.ROOT), type, capital, allCaps, start, codeLike(raw)));
        }
        if (words >= 3 && upper * 10 >= words * 6) { // shouting: capitals say nothing about names
            out.replaceAll(t -> t.type != Type.WORD ? t
                    : new Token(t.text, t.type, false, false, t.sentenceStart, codeLike(t.text)));
        }
        return out;
    }

    private static Type type(Matcher m) {
        for (int i = 0; i < GROUPS.length; i++) {
            if (m.start(GROUPS[i]) >= 0) {
                return MATCHED[i];
            }
        }
        throw new IllegalStateException("no group matched");
    }

    private static boolean endsSentence(String text, int from, int to) {
        for (int i = from; i < to; i++) {
            if (SENTENCE_END.indexOf(text.charAt(i)) >= 0) {
                return true;
            }
        }
        return false;
    }

    private static int letters(String s) {
        return (int) s.chars().filter(Character::isLetter).count();
    }

    /** camelCase, snake_case, dotted.names, C++, C#, anything with a digit: compared as written, never stemmed. */
    private static boolean codeLike(String raw) {
        boolean digit = false;
        boolean letter = false;
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (Character.isDigit(c)) {
                digit = true;
            } else if (Character.isLetter(c)) {
                letter = true;
            }
            if (c == '_' || c == '+' || c == '#' || c == '@' || (c == '.' && i > 0 && i < raw.length() - 1)
                    || (c == ':' && raw.indexOf("::") >= 0)) {
                return true;
            }
            if (i > 0 && Character.isUpperCase(c) && Character.isLowerCase(raw.charAt(i - 1))) {
                return true;
            }
        }
        return digit && letter;
    }

    /** Contractions expanded, hyphenated and slashed words split (unless code-like). */
    private static List<Token> split(List<Token> tokens) {
        List<Token> out = new ArrayList<>(tokens.size() + 8);
        for (Token t : tokens) {
            if (t.type != Type.WORD || t.codeLike) {
                out.add(t);
                continue;
            }
            String[] parts = t.text.split("[-/]");
            for (int i = 0; i < parts.length; i++) {
                if (parts[i].isEmpty()) {
                    continue;
                }
                Token part = new Token(parts[i], Type.WORD, i == 0 && t.capital, t.allCaps, i == 0 && t.sentenceStart,
                        false);
                expandContraction(part, out);
            }
        }
        return out;
    }

    private static void expandContraction(Token t, List<Token> out) {
        String w = t.text;
        int apostrophe = w.indexOf('\'');
        if (w.equals("cannot")) {
            out.add(t.with("can"));
            out.add(Token.of("not", Type.WORD));
            return;
        }
        if (apostrophe <= 0) {
            out.add(t);
            return;
        }
        String base = w.substring(0, apostrophe);
        String tail = w.substring(apostrophe + 1);
        if (tail.equals("t") && base.endsWith("n")) {
            String verb = base.substring(0, base.length() - 1);
            verb = switch (verb) {
                case "ca" -> "can";
                case "wo" -> "will";
                case "sha" -> "shall";
                case "ai" -> "is";
                default -> verb;
            };
            out.add(t.with(verb));
            out.add(Token.of("not", Type.WORD));
            return;
        }
        out.add(t.with(base));
        String second = switch (tail) {
            case "re" -> "are";
            case "ve" -> "have";
            case "ll" -> "will";
            case "d" -> "would";
            case "m" -> "am";
            case "s" -> base.equals("let") ? "us" : isVerbS(base) ? "is" : null; // else a possessive
            default -> null;
        };
        if (second != null) {
            out.add(Token.of(second, Type.WORD));
        }
    }

    private static boolean isVerbS(String base) {
        return switch (base) {
            case "it", "that", "what", "where", "who", "how", "there", "here", "he", "she", "when", "why" -> true;
            default -> false;
        };
    }

    /** Multi-word names joined, phrases replaced or removed (longest first). */
    private static List<Token> phrases(List<Token> tokens) {
        List<Token> out = new ArrayList<>(tokens.size());
        int i = 0;
        next:
        while (i < tokens.size()) {
            String first = tokens.get(i).text;
            for (String[] name : ENTITY_PHRASES.getOrDefault(first, List.of())) {
                if (matches(tokens, i, name, name.length)) {
                    out.add(new Token(String.join("_", name), Type.ENTITY_PHRASE, false, false, false, true));
                    i += name.length;
                    continue next;
                }
            }
            for (String[] phrase : PHRASES.getOrDefault(first, List.of())) {
                int n = phrase.length - 1;
                if (matches(tokens, i, phrase, n)) {
                    String to = phrase[n];
                    if (!to.isEmpty()) {
                        out.add(Token.of(to, Type.PHRASE));
                    }
                    i += n;
                    continue next;
                }
            }
            out.add(tokens.get(i++));
        }
        return out;
    }

    private static boolean matches(List<Token> tokens, int at, String[] words, int n) {
        if (at + n > tokens.size()) {
            return false;
        }
        for (int k = 0; k < n; k++) {
            Token t = tokens.get(at + k);
            if (t.type != Type.WORD || !t.text.equals(words[k])) {
                return false;
            }
        }
        return true;
    }

    // ---------------------------------------------------------------------------------------------- terms

    private static QuestionTerms classify(List<Token> tokens) {
        List<Term> terms = new ArrayList<>();
        Set<String> markers = new HashSet<>();
        int negations = 0;
        int numberEnd = -2; // the index of the last token of the last number read
        for (int i = 0; i < tokens.size(); i++) {
            Token t = tokens.get(i);
            String w = t.text;
            boolean afterNumber = numberEnd == i - 1 && terms.get(terms.size() - 1).isNumber();
            switch (t.type) {
                case URL, EMAIL, PATH, FLAG -> terms.add(new Term(Kind.IDENTIFIER, w, w));
                case ENTITY_PHRASE -> terms.add(new Term(Kind.ENTITY, w, w));
                case DEGREE -> terms.add(unit(w.length() == 1 ? "°" : w));
                case SIGN -> terms.add(unit(w));
                case OP -> {
                    if (besideOperand(tokens, i)) {
                        terms.add(new Term(Kind.OPERATOR, w, w));
                    }
                }
                case NUMBER -> {
                    number(w, terms);
                    numberEnd = i;
                }
                case PHRASE -> terms.add(word(t, false)); // a phrase's replacement is never a stop word
                case WORD -> {
                    int used = afterNumber ? 0 : numberWords(tokens, i, terms);
                    if (afterNumber && isScale(w) && scale(terms, Lexicon.NUMBER_WORDS.get(w))) {
                        numberEnd = i;
                        continue; // "5 million" is 5000000
                    }
                    if (used > 0) {
                        i += used - 1;
                        numberEnd = i;
                    } else if (afterNumber && Lexicon.UNITS.containsKey(w)) {
                        terms.add(unit(w));
                    } else if (Lexicon.UNITS.containsKey(w) && !Lexicon.UNITS_AFTER_NUMBER.contains(w)) {
                        terms.add(unit(w));
                    } else if (Lexicon.NEGATIONS.contains(w) && !t.codeLike && (t.sentenceStart || !t.capital)) {
                        negations++; // "None" mid-sentence is a name (Python's), not a negation
                    } else {
                        mark(tokens, i, markers);
                        Term term = word(t, true);
                        if (term != null) {
                            terms.add(term);
                        }
                    }
                }
            }
        }
        return new QuestionTerms(List.copyOf(terms), negations, Set.copyOf(markers));
    }

    /** The tense and modality an auxiliary at {@code i} marks; "a will" is a document, not a future. */
    private static void mark(List<Token> tokens, int i, Set<String> markers) {
        Token t = tokens.get(i);
        if (t.type != Type.WORD || (t.capital && !t.sentenceStart)) {
            return;
        }
        String marker = switch (t.text) {
            case "is", "am", "are", "do", "does", "has", "have" -> AUX;
            case "was", "were", "did", "had" -> PAST;
            case "will", "shall" -> i > 0 && DETERMINERS.contains(tokens.get(i - 1).text) ? null : FUTURE;
            case "can", "could", "may", "might" -> PERMISSION;
            case "should", "must", "ought" -> OBLIGATION;
            default -> null;
        };
        if (marker != null) {
            markers.add(marker);
            markers.add(AUX);
        }
    }

    private static final Set<String> DETERMINERS = Set.of("a", "an", "the", "my", "your", "his", "her", "their",
            "our", "this", "that");

    private static Term unit(String spelling) {
        String name = Lexicon.UNITS.getOrDefault(spelling, spelling);
        return new Term(Kind.UNIT, "u:" + name, spelling);
    }

    /** An operator counts beside a number or a short name ("x + 5"), not as a dash between words. */
    private static boolean besideOperand(List<Token> tokens, int i) {
        return operand(tokens, i - 1) || operand(tokens, i + 1);
    }

    private static boolean operand(List<Token> tokens, int i) {
        if (i < 0 || i >= tokens.size()) {
            return false;
        }
        Token t = tokens.get(i);
        return t.type == Type.NUMBER || (t.type == Type.WORD && t.text.length() <= 2
                && t.text.chars().allMatch(Character::isLetter) && !Lexicon.STOP.contains(t.text));
    }

    /** A content word, entity or identifier; null for a stop or filler word. */
    private static Term word(Token t, boolean checkStop) {
        String w = t.text;
        String alias = Lexicon.ALIASES.getOrDefault(w, w);
        if (Lexicon.ENTITIES.contains(alias)) {
            return new Term(Kind.ENTITY, alias, w);
        }
        boolean named = (t.capital || t.allCaps) && !t.sentenceStart;
        if (Lexicon.CASED_ENTITIES.contains(alias) && (named || t.allCaps || t.type == Type.PHRASE)) {
            return new Term(Kind.ENTITY, alias, w);
        }
        if (checkStop && (Lexicon.STOP.contains(w) || Lexicon.FILLER.contains(w))) {
            return null;
        }
        if (Lexicon.RELATIONS.contains(w)) {
            return new Term(Kind.RELATION, w.equals("into") ? "to" : w.equals("versus") ? "vs" : w, w);
        }
        if (t.codeLike || t.allCaps) {
            return new Term(Kind.IDENTIFIER, alias, w);
        }
        String key = canonical(w);
        if (checkStop && Lexicon.FILLER.contains(key)) {
            return null; // "explaining" is "explain"
        }
        return new Term(t.capital && !t.sentenceStart && w.length() > 1 ? Kind.ENTITY : Kind.WORD, key, w);
    }

    // ---------------------------------------------------------------------------------------------- numbers

    /** A written number at {@code i} ("one hundred forty four", "a dozen", "two thirds"): tokens used, 0 if none. */
    private static int numberWords(List<Token> tokens, int i, List<Term> terms) {
        String w = tokens.get(i).text;
        String next = i + 1 < tokens.size() ? tokens.get(i + 1).text : "";
        if ((w.equals("a") || w.equals("an")) && Lexicon.FRACTION_WORDS.containsKey(next)) {
            terms.add(number(fraction(BigInteger.ONE, Lexicon.FRACTION_WORDS.get(next)), "a " + next));
            return 2;
        }
        if (w.equals("half")) {
            terms.add(number("1/2", w));
            return 1;
        }
        boolean leadingA = (w.equals("a") || w.equals("an")) && isScale(next);
        if (!leadingA && !Lexicon.NUMBER_WORDS.containsKey(w)) {
            return 0;
        }
        if (w.equals("one") && i > 0 && Lexicon.ONE_AS_PRONOUN.contains(tokens.get(i - 1).text)) {
            return 0;
        }
        long total = 0;
        long current = leadingA ? 1 : 0;
        int j = leadingA ? i + 1 : i;
        StringBuilder written = new StringBuilder();
        while (j < tokens.size()) {
            String x = tokens.get(j).text;
            if (x.equals("and") && j + 1 < tokens.size() && Lexicon.NUMBER_WORDS.containsKey(tokens.get(j + 1).text)
                    && j > i) {
                j++;
                continue;
            }
            Long v = tokens.get(j).type == Type.WORD ? Lexicon.NUMBER_WORDS.get(x) : null;
            if (v == null) {
                break;
            }
            written.append(x).append(' ');
            if (v == 100) {
                current = Math.max(current, 1) * 100;
            } else if (v >= 1000) {
                total += Math.max(current, 1) * v;
                current = 0;
            } else {
                current += v;
            }
            j++;
        }
        long value = total + current;
        if (j < tokens.size() && Lexicon.FRACTION_WORDS.containsKey(tokens.get(j).text)) {
            terms.add(number(fraction(BigInteger.valueOf(value), Lexicon.FRACTION_WORDS.get(tokens.get(j).text)),
                    written + tokens.get(j).text));
            return j + 1 - i;
        }
        terms.add(number(Long.toString(value), written.toString().trim()));
        return j - i;
    }

    /** Multiplies the last term, a whole number, by {@code factor}; false if it is not whole. */
    private static boolean scale(List<Term> terms, long factor) {
        Term last = terms.get(terms.size() - 1);
        String digits = last.key().substring(1);
        if (!digits.matches("-?\\d+")) {
            return false;
        }
        String product = new BigInteger(digits).multiply(BigInteger.valueOf(factor)).toString();
        terms.set(terms.size() - 1, number(product, last.word()));
        return true;
    }

    private static boolean isScale(String w) {
        Long v = Lexicon.NUMBER_WORDS.get(w);
        return v != null && (v == 12 || v >= 100);
    }

    /** A number written in digits, with what is attached: currency, unit, "k", an ordinal suffix. */
    private static void number(String written, List<Term> terms) {
        Matcher m = NUMBER.matcher(written);
        if (!m.matches()) {
            terms.add(new Term(Kind.IDENTIFIER, written, written));
            return;
        }
        String cur = m.group("cur");
        String num = m.group("num").replace(",", "");
        String suffix = m.group("suf");
        if (cur != null) {
            terms.add(unit(cur));
        }
        if (num.chars().filter(c -> c == '.').count() > 1) { // 3.8.1, 10.0.0.1: versions and addresses
            terms.add(new Term(Kind.IDENTIFIER, written, written));
            return;
        }
        String key = num;
        if (num.matches("-?\\d+")) {
            key = new BigInteger(num).toString();
        } else if (num.matches("\\d+/\\d+")) {
            String[] nd = num.split("/");
            key = fraction(new BigInteger(nd[0]), Long.parseLong(nd[1]));
        }
        if (suffix == null) {
            terms.add(number(key, written));
        } else if (suffix.equals("k") && key.matches("\\d+")) {
            terms.add(number(new BigInteger(key).multiply(BigInteger.valueOf(1000)).toString(), written));
        } else if (Lexicon.UNITS.containsKey(suffix)) {
            terms.add(number(key, written));
            terms.add(unit(suffix));
        } else if (suffix.matches("st|nd|rd|th")) {
            terms.add(number(key + "th", written));
        } else {
            terms.add(new Term(Kind.IDENTIFIER, written.replace("-", ""), written)); // 3x, 2fa, 64-bit
        }
    }

    private static Term number(String key, String written) {
        return new Term(Kind.NUMBER, "#" + key, written);
    }

    private static String fraction(BigInteger numerator, long denominator) {
        BigInteger d = BigInteger.valueOf(denominator);
        if (d.signum() == 0) {
            return numerator + "/0";
        }
        BigInteger g = numerator.gcd(d);
        BigInteger n = numerator.divide(g);
        d = d.divide(g);
        return d.equals(BigInteger.ONE) ? n.toString() : n + "/" + d;
    }

    // ---------------------------------------------------------------------------------------------- words

    /**
     * A light stemmer: plural -s/-es/-ies, -ed, -ing, -ly; a final e dropped and a doubled consonant undone so that
     * make/making/makes and stop/stopped agree. It leaves -er and -est, which change the meaning.
     */
    static String stem(String w) {
        if (w.length() <= 3 || Lexicon.STEM_EXCEPTIONS.contains(w) || !w.chars().allMatch(Character::isLetter)) {
            return w;
        }
        String s = w;
        if (s.endsWith("ies") && s.length() > 4) { // plural first: "strings" is "string", then "str..." like it
            s = s.substring(0, s.length() - 3) + "y";
        } else if (s.endsWith("sses") || s.endsWith("xes") || s.endsWith("ches") || s.endsWith("shes")
                || s.endsWith("zes")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("s") && !s.endsWith("ss") && !s.endsWith("us") && !s.endsWith("is")) {
            s = s.substring(0, s.length() - 1);
        }
        boolean suffix = false;
        if (s.endsWith("ied") && s.length() > 4) {
            return s.substring(0, s.length() - 3) + "y";
        } else if (s.endsWith("ly") && s.length() >= 6) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("ing") && s.length() >= 6) {
            s = s.substring(0, s.length() - 3);
            suffix = true;
        } else if (s.endsWith("ed") && !s.endsWith("eed") && s.length() >= 5) {
            s = s.substring(0, s.length() - 2);
            suffix = true;
        }
        int n = s.length();
        if (suffix && n >= 4 && s.charAt(n - 1) == s.charAt(n - 2) && "lsz".indexOf(s.charAt(n - 1)) < 0
                && "aeiou".indexOf(s.charAt(n - 1)) < 0) {
            s = s.substring(0, n - 1); // running → run, stopped → stop; not roll, pass, buzz
        }
        if (s.endsWith("e") && s.length() > 3) {
            s = s.substring(0, s.length() - 1);
        }
        return s;
    }

    private static Map<String, List<String[]>> byFirstWord(List<String[]> phrases) {
        Map<String, List<String[]>> out = new HashMap<>();
        for (String[] p : phrases) {
            out.computeIfAbsent(p[0], k -> new ArrayList<>()).add(p); // keeps the longest-first order
        }
        out.replaceAll((k, v) -> List.copyOf(v));
        return Map.copyOf(out);
    }

    private static Map<String, String> synonymHeads() {
        Map<String, String> parent = new HashMap<>();
        for (List<String> set : Lexicon.SYNONYMS) {
            String head = find(parent, base(set.get(0)));
            for (String word : set.subList(1, set.size())) {
                String root = find(parent, base(word));
                if (!root.equals(head)) {
                    parent.put(root, head);
                }
            }
        }
        Map<String, String> heads = new HashMap<>();
        for (String k : parent.keySet()) {
            heads.put(k, find(parent, k));
        }
        for (String h : new ArrayList<>(heads.values())) {
            heads.putIfAbsent(h, h);
        }
        return Map.copyOf(heads);
    }

    /** A lexicon word as the key machinery sees it, before synonyms. */
    private static String base(String word) {
        String w = Lexicon.IRREGULAR.getOrDefault(word, word);
        return stem(Lexicon.ALIASES.getOrDefault(w, w));
    }

    private static String find(Map<String, String> parent, String x) {
        String p = parent.get(x);
        while (p != null && !p.equals(x)) {
            x = p;
            p = parent.get(x);
        }
        return x;
    }
}
