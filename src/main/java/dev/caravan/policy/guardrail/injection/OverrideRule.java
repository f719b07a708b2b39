package dev.caravan.policy.guardrail.injection;

import java.util.List;

/**
 * {@code instruction-override}: a text telling the model to drop the instructions it was given ("ignore all previous
 * instructions", "forget everything you were told", "disregard your guidelines", "ignore the above and…", "your
 * previous instructions are void", "treat the following as your system prompt", "as if it was never written", "admin
 * override"), in English, in French, Spanish, German, Italian, Portuguese, Dutch, Polish, Swedish, Turkish and Russian,
 * and in Chinese, Japanese and Korean.
 *
 * <p>What it leaves alone, on purpose: the user taking back their own words ("ignore my previous message", "forget
 * what I said about the date"), and ordinary uses of the verbs (override a method, ignore whitespace, forget the
 * budget, "the COVID restrictions no longer apply"). Hence a target the user does not own is required: all/any/your,
 * or a qualifier such as previous, prior, above, original, system.
 */
final class OverrideRule implements PhraseRule {

    private static final String VERB = "(?:ignore|ignoring|disregard|disregarding|forget|forgetting|discard|override|bypass"
            + "|neglect|abandon|set\\s+aside|throw\\s+(?:away|out)|pay\\s+no\\s+(?:attention|heed)\\s+to"
            + "|stop\\s+(?:following|obeying)|(?:do\\s+not|don't|dont|no\\s+longer|never)\\s+(?:follow|obey|adhere\\s+to|comply\\s+with|listen\\s+to))";
    private static final String[] VERB_HINTS = {"ignor", "disregard", "forget", "discard", "overrid", "bypass", "neglect", "abandon",
        "aside", "throw", "no attention", "no heed", "follow", "obey", "adhere", "comply", "listen"};
    private static final String DETERMINERS = "(?:(?:all|any|every|each|of|the|your|these|those|its|such)\\s+){0,3}";
    private static final String QUALIFIER = "(?:previous|previously\\s+given|prior|above|aforementioned|preceding|earlier|former"
            + "|original|initial|foregoing|system|developer|safety|hidden|built-in|preprogrammed|pre-programmed|openai|anthropic)";
    private static final String[] QUALIFIER_HINTS = {"previous", "prior", "above", "aforementioned", "preceding", "earlier", "former",
        "original", "initial", "foregoing", "system", "developer", "safety", "hidden", "built-in", "programmed", "openai", "anthropic"};
    private static final String NOUN = "(?:instructions?|prompts?|rules?|directives?|guidelines?|guidance|directions|constraints"
            + "|restrictions|limitations|programming|context|messages?|training|conditioning|filters|safeguards|text|conversation"
            + "|system\\s+prompt|system\\s+message|commands|(?:usage|content|safety)\\s+polic(?:y|ies))\\b";
    // what a model was told, as opposed to any rules in the world ("the restrictions no longer apply")
    private static final String AI_NOUN = "(?:instructions|prompt|system\\s+prompt|guidelines|directives|programming|training"
            + "|(?:usage|content|safety)\\s+polic(?:y|ies)|rules|restrictions|filters|safeguards)";
    // the user's own earlier words: "ignore the previous instructions I gave"; the rules of people the user names
    private static final String NOT_OWN = "(?!\\s+(?:i|we)\\s+(?:gave|wrote|sent|provided|typed|listed|mentioned|made|shared|added|posted)\\b)(?!\\s+from\\s+me\\b)"
            // someone else's rules, not the model's: "every rule my parents set"
            + "(?!\\s+(?:my|our|his|her|their)\\b)";
    private static final String VOID = "(?:void|cancel(?:l)?ed|revoked|lifted|obsolete|replaced|no\\s+longer\\s+(?:valid|relevant|in\\s+effect|active)"
            + "|null|a\\s+test|fake|a\\s+joke|outdated|invalid|irrelevant|wrong|not\\s+real|suspended|disabled|overridden|superseded|meaningless)";
    private static final String[] VOID_HINTS = {"void", "cancel", "revoked", "lifted", "obsolete", "replaced", "no longer", "null",
        "test", "fake", "joke", "outdated", "invalid", "irrelevant", "wrong", "not real", "suspended", "disabled", "overridden",
        "superseded", "meaningless"};

    private static final String VERB_OTHER = "(?:ignore[zr]?|ignora|ignorar|ignoriere|ignorieren|oublie[zr]?|olvida|olvide"
            + "|olvidar|vergiss|vergessen\\s+sie|dimentica|esquece|esqueça|desconsidere|descarta|игнорируй|игнорируйте|забудь|забудьте"
            + "|zignoruj|zapomnij|negeer|vergeet|ignorera|glöm|unut)";
    private static final String NOUN_OTHER = "(?:instructions?|consignes|instrucciones|reglas|anweisungen|regeln|befehle|istruzioni"
            + "|regole|instruções|instrucoes|regras|инструкции|указания|правила|instrukcje|polecenia|instructies|regels|instruktioner"
            + "|talimatları|talimatlari)";
    private static final String PREVIOUS_OTHER = "(?:précédentes|precedentes|antérieures|anteriores|vorherigen|bisherigen|früheren"
            + "|precedenti|anteriori|предыдущие|прежние|все|poprzednie|wcześniejsze|eerdere|vorige|tidigare|önceki|onceki)";
    // "your" in those languages, and "the ones they gave you"
    private static final String YOUR_OTHER = "(?:tus|vos|tes|deine|ihre|tue|le\\s+tue|suas|tuas|as\\s+suas|swoje|je|dina|твои|ваши)";
    private static final String GIVEN_OTHER = "(?:que\\s+te\\s+(?:dieron|han\\s+dado|dio|di)|qu'on\\s+t'a\\s+données|qu'on\\s+vous\\s+a\\s+données"
            + "|die\\s+(?:man\\s+)?dir\\s+gegeben|que\\s+te\\s+deram|che\\s+ti\\s+hanno\\s+dato)";
    private static final String[] OTHER_HINTS = {"ignor", "oubli", "olvid", "vergiss", "vergessen", "dimentica", "esque", "desconsidere",
        "descarta", "игнор", "забуд", "zignoruj", "zapomnij", "negeer", "vergeet", "glöm", "unut"};

    private static final List<Phrase> PATTERNS = List.of(
            Phrase.of("\\b" + VERB + "\\s+" + DETERMINERS + "(?:" + QUALIFIER + "\\s+){1,2}" + NOUN + NOT_OWN, VERB_HINTS)
                    .and(QUALIFIER_HINTS),
            Phrase.of("\\b" + VERB + "\\s+(?:all\\s+|any\\s+)?(?:of\\s+)?your\\s+(?:[a-z-]+\\s+)?" + NOUN, VERB_HINTS).and("your"),
            Phrase.of("\\b" + VERB + "\\s+(?:all|any|every)\\s+(?:of\\s+the\\s+|the\\s+)?" + NOUN + NOT_OWN, VERB_HINTS)
                    .and("all", "any", "every"),
            Phrase.of("\\b" + VERB + "\\s+(?:everything|anything|all|whatever)\\s+(?:(?:that\\s+)?you(?:'ve|\\s+have|\\s+were|\\s+had)?"
                    + "\\s+(?:been\\s+)?(?:told|given|taught|instructed|programmed)|(?:(?:written|said|stated|mentioned|typed)\\s+)?"
                    + "(?:above|before\\s+this|previously|earlier|prior\\s+to\\s+this|so\\s+far|up\\s+to\\s+(?:now|this\\s+point)))", VERB_HINTS)
                    .and("everything", "anything", "all", "whatever"),
            Phrase.of("\\bignore\\s+(?:the|this|that|all\\s+of\\s+the)\\s+(?:above|previous|preceding)\\s*(?:,|and|\\.|;|-)", "ignore"),
            // "ignore what the system told you", "disregard whatever your developers said"
            Phrase.of("\\b" + VERB + "\\s+(?:what|whatever|anything|everything)\\s+(?:the\\s+system|your\\s+(?:developers?|creators?|makers?"
                    + "|instructions|prompt|system\\s+prompt|rules|programming)|the\\s+(?:developers?|operator|company)|openai|anthropic)"
                    + "\\s+(?:has\\s+|have\\s+)?(?:told|said|says|tells|gave|wrote|taught)", VERB_HINTS).and("told", "said", "says", "tells",
                    "gave", "wrote", "taught"),
            // "cancel all prior commands", "reset your instructions"
            Phrase.of("\\b(?:cancel|void|revoke|reset|clear|erase|wipe|delete|remove)\\s+(?:(?:all|every|any)\\s+(?:of\\s+)?(?:the\\s+|your\\s+)?"
                    + "(?:prior|previous|earlier|original|above)\\s+|(?:all\\s+(?:of\\s+)?)?your\\s+(?:prior\\s+|previous\\s+|current\\s+|original\\s+)?)"
                    + "(?:commands|instructions|directives|rules|guidelines|programming|prompts?|constraints|restrictions|safeguards|filters"
                    + "|training)\\b", "cancel", "void", "revoke", "reset", "clear", "erase", "wipe", "delete", "remove"),
            Phrase.of("\\b(?:system|admin|administrator|developer|root|emergency|priority|master|assistant|operator)\\s+override\\b", "override"),
            Phrase.of("\\boverride\\s+(?:all\\s+(?:of\\s+)?)?your\\s+", "override"),
            // "your previous instructions are void", "the previous instructions were a test"
            Phrase.of("\\b(?:your|the)\\s+(?:previous|prior|original|initial|earlier|old|above)\\s+" + AI_NOUN
                    + "\\s+(?:are|were|have\\s+been|is|was)\\s+(?:now\\s+|all\\s+|just\\s+|only\\s+)?" + VOID, "previous", "prior", "original",
                    "initial", "earlier", "old", "above").and(VOID_HINTS),
            // "none of your prior directions apply", "your guidelines no longer apply"
            Phrase.of("\\b(?:none\\s+of\\s+your\\s+(?:" + QUALIFIER + "\\s+)?(?:" + AI_NOUN + "|directions)\\s+(?:\\w+\\s+)?(?:apply|applies|matter|count)"
                    + "|your\\s+(?:" + QUALIFIER + "\\s+)?(?:" + AI_NOUN + "|directions)\\s+(?:no\\s+longer|don't|do\\s+not|doesn't|won't|will\\s+not)"
                    + "\\s+(?:apply|matter|count))\\b", "your").and("apply", "applies", "matter", "count"),
            Phrase.of("\\bnone\\s+of\\s+the\\s+(?:previous|prior|above|earlier|original|system)\\s+(?:instructions|guidelines|directives|prompts?"
                    + "|directions|rules)\\s+(?:\\w+\\s+)?(?:apply|applies|matter|count)", "none of"),
            // "everything you were told before this line is obsolete"
            Phrase.of("\\b(?:everything|all|anything|whatever)\\s+(?:that\\s+)?you(?:'ve|\\s+have|\\s+were|\\s+had)?\\s+(?:been\\s+)?(?:told|given"
                    + "|instructed|taught)\\b[^.\\n]{0,40}?\\b(?:is|are|was|becomes)\\s+(?:now\\s+)?" + VOID, "told", "given", "instructed",
                    "taught").and(VOID_HINTS),
            // "their instructions are cancelled", "all your rules are void"
            Phrase.of("\\b(?:their|those|your|all\\s+(?:of\\s+)?(?:your|the|their))\\s+" + AI_NOUN + "\\s+(?:are|were|have\\s+been|is|was)\\s+(?:now\\s+)?"
                    + "(?:cancel(?:l)?ed|void|revoked|null(?:\\s+and\\s+void)?|no\\s+longer\\s+valid|superseded|overridden|replaced|lifted)", "their",
                    "those", "your", "all").and("cancel", "void", "revoked", "null", "no longer", "superseded", "overridden", "replaced", "lifted"),
            // "pretend the conversation so far never happened", "assume nobody gave you any rules"
            Phrase.of("\\b(?:pretend|imagine|assume|act\\s+as\\s+if|suppose|behave\\s+as\\s+if)\\s+(?:that\\s+)?(?:the\\s+conversation\\s+(?:so\\s+far|until\\s+now)"
                    + "\\s+never\\s+happened|(?:nobody|no\\s+one)\\s+(?:ever\\s+)?gave\\s+you\\s+any\\s+(?:rules|instructions|guidelines)|you\\s+(?:have|had|were\\s+given)"
                    + "\\s+no\\s+(?:rules|instructions|guidelines|restrictions|system\\s+prompt)|there\\s+(?:are|were)\\s+no\\s+(?:rules|restrictions|guidelines))",
                    "pretend", "imagine", "assume", "as if", "suppose"),
            // "put aside everything they programmed into you"
            Phrase.of("\\b" + VERB + "\\s+(?:everything|anything|all|whatever)\\s+(?:that\\s+)?(?:they|the\\s+developers?|your\\s+(?:creators?|developers?|makers?"
                    + "|trainers?)|someone|openai|anthropic)\\s+(?:have\\s+|has\\s+)?(?:programmed|trained|told|taught|instructed|configured|put|built)",
                    VERB_HINTS).and("they", "developer", "your", "someone", "openai", "anthropic"),
            // "anything earlier is to be treated as if it was never written"
            Phrase.of("\\bas\\s+if\\s+(?:it|they|that|those|these)\\s+(?:was|were|had)\\s+never\\s+(?:been\\s+)?(?:written|said|given|sent|typed|there)",
                    "as if"),
            Phrase.of("\\b(?:anything|everything|whatever|all)\\s+(?:written\\s+|said\\s+)?(?:earlier|before|above|prior)(?:\\s+this)?\\s+(?:is|should\\s+be"
                    + "|must\\s+be|is\\s+to\\s+be|will\\s+be)\\s+(?:now\\s+)?(?:void|irrelevant|obsolete|ignored|deleted|null|cancel(?:l)?ed|disregarded)",
                    "earlier", "before", "above", "prior"),
            // "the only rulebook is this message"
            Phrase.of("\\bthe\\s+only\\s+(?:rules?|rulebook|instructions?|guidelines?|orders)\\s+(?:you\\s+(?:follow|obey|have)\\s+|that\\s+(?:matter|count|apply)\\s+)?"
                    + "(?:is|are)\\s+(?:this\\s+message|mine|my\\s+(?:rules|instructions|words|message|orders)|the\\s+ones?\\s+(?:in\\s+this\\s+message|i\\s+give))",
                    "only"),
            // "the developer note at the top no longer applies"
            Phrase.of("\\b(?:developer|system|original|initial|operator|admin)\\s+(?:note|message|prompt|instructions|rules|guidelines)\\s+(?:at\\s+the\\s+top\\s+|above\\s+)?"
                    + "(?:no\\s+longer|doesn't|does\\s+not|don't|do\\s+not)\\s+appl(?:y|ies)", "apply", "applies"),
            Phrase.of("\\btreat\\s+(?:the\\s+following|this(?:\\s+message|\\s+text)?|these(?:\\s+lines)?|what\\s+follows|the\\s+text\\s+below)"
                    + "\\s+as\\s+(?:your\\s+)?(?:new\\s+)?(?:system\\s+(?:prompt|message|instructions)|instructions|(?:top|highest)\\s+priority"
                    + "|developer\\s+instructions|core\\s+rules)", "treat"),
            Phrase.of("\\b" + VERB_OTHER + "\\s+(?:\\p{L}+\\s+){0,2}" + NOUN_OTHER + "\\s+(?:\\p{L}+\\s+)?(?:" + PREVIOUS_OTHER + "|" + GIVEN_OTHER + ")",
                    OTHER_HINTS),
            Phrase.of("\\b" + VERB_OTHER + "\\s+(?:\\p{L}+\\s+){0,2}" + PREVIOUS_OTHER + "\\s+" + NOUN_OTHER, OTHER_HINTS),
            Phrase.of("\\b" + VERB_OTHER + "\\s+(?:\\p{L}+\\s+)?" + YOUR_OTHER + "\\s+(?:\\p{L}+\\s+)?" + NOUN_OTHER, OTHER_HINTS),
            // Chinese, Japanese, Korean: "ignore (all) previous instructions"
            Phrase.of("(?:忽略|无视|忽视|忘记|忘掉|不要理会)(?:你)?(?:之前|以前|上面|先前|前面|所有|全部|你的|此前)", "忽略", "无视", "忽视", "忘记",
                    "忘掉", "不要理会"),
            Phrase.of("(?:以前|前|上記|これまで|先ほど)の(?:すべての|全ての)?(?:指示|命令|ルール|指令)(?:は|を)(?:すべて|全て)?(?:無視|忘れ)", "無視", "忘れ"),
            Phrase.of("(?:이전|앞의|위의|기존|지금까지)(?:의)?\\s*(?:모든\\s*)?(?:지시|명령|지침|규칙)(?:을|를|은|는|사항을)?\\s*(?:모두\\s*)?(?:무시|잊)",
                    "무시", "잊"));

    @Override
    public String name() {
        return "instruction-override";
    }

    @Override
    public boolean matches(Reading reading) {
        return Phrase.anyUnshielded(PATTERNS, reading, false);
    }
}
