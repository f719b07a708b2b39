package dev.caravan.policy.guardrail.injection;

import java.util.List;

/**
 * {@code role-play}: jailbreak personas and modes ("you are now DAN", "Do Anything Now", "ChatGPT with Developer Mode
 * enabled", "an AI without any restrictions", "you can never refuse", "I am your creator", "[JAILBREAK]").
 *
 * <p>What it leaves alone: harmless personas (a pirate, an interviewer, a Linux terminal), developer mode on a phone
 * or a browser ("how do I enable developer mode on Android?"), god mode in a game, "stay in character" in a story.
 * So a mode counts only when it is the model's ("you are in developer mode", "in developer mode you…"), "no
 * restrictions" only when said of the model, "never break character" only next to rules or refusals.
 */
final class RolePlayRule implements PhraseRule {

    private static final String BECOME = "(?:you\\s+are|you're|youre|you\\s+will\\s+(?:be|act\\s+as|now\\s+be)|act(?:ing)?\\s+as|pretend\\s+(?:to\\s+be|you\\s+are|you're)"
            + "|become|roleplay\\s+as|role-play\\s+as|play\\s+the\\s+(?:role|part)\\s+of|simulate|emulate|behave\\s+(?:like|as)|respond\\s+as|answer\\s+as)";
    private static final String PERSONA = "(?:dan|stan|dude|aim|mongo\\s+tom|evilbot|evil-bot|betterdan|better\\s+dan|anti-?gpt|chaosgpt|wormgpt"
            + "|jailbroken\\s+\\p{L}+|an?\\s+jailbroken\\s+\\p{L}+|developer\\s+mode|dev\\s+mode)";
    private static final String MODEL = "(?:you|yourself|chatgpt|gpt(?:-?\\d(?:\\.\\d)?o?)?|claude|gemini|bard|llama|the\\s+(?:ai|assistant|model|chatbot|bot|llm)|ai|an\\s+ai"
            + "|assistant|model|chatbot|llm)";
    private static final String[] MODEL_HINTS = {"you", "*gpt", "claude", "gemini", "bard", "llama", "ai", "assistant", "model", "*bot", "llm"};
    private static final String UNBOUND = "(?:without\\s+(?:any\\s+)?|with\\s+no\\s+|that\\s+has\\s+no\\s+|who\\s+has\\s+no\\s+|(?:has|have|having)\\s+no\\s+"
            + "|(?:free|freed|liberated|released|unshackled)\\s+(?:of|from)\\s+(?:all\\s+|any\\s+|the\\s+|your\\s+|its\\s+)?"
            + "|(?:not|no\\s+longer|never)\\s+bound\\s+by\\s+(?:any\\s+|the\\s+|your\\s+)?|unbound\\s+by\\s+)";
    private static final String LIMITS = "(?:[a-z]+\\s+)?(?:restrictions|limits|limitations|filters|rules|guidelines|ethics|morals|morality"
            + "|censorship|content\\s+polic(?:y|ies)|policies|safeguards|constraints|boundaries|guardrails|shackles)\\b";
    private static final String[] LIMIT_HINTS = {"restriction", "limit", "filter", "rules", "guideline", "ethic", "moral", "censor",
        "polic", "safeguard", "constraint", "boundar", "guardrail", "shackle"};
    private static final String MODE = "(?:developer|dev|debug|admin|god|sudo|root|maintenance)\\s+mode\\b";

    private static final List<Phrase> PATTERNS = List.of(
            Phrase.of("\\b" + BECOME + "\\s+(?:now\\s+|going\\s+to\\s+be\\s+|about\\s+to\\s+(?:be|become)\\s+)?(?:an?\\s+|the\\s+|my\\s+)?"
                    + PERSONA + "\\b(?!\\s*,\\s*(?:a|an|my|the|our)\\b)", "dan", "stan", "dude", "aim", "mongo", "evil", "*gpt", "jailbroken",
                    "mode"),
            Phrase.of("\\bdo\\s+anything\\s+now\\b", "anything now"),
            Phrase.of("\\b(?:dan|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|no[- ]?limits?|amoral|unhinged)\\s+mode\\b", "mode"),
            Phrase.of("\\[(?:jailbreak|jailbroken|dan|unfiltered|unlocked|uncensored|🔓)[^\\]\\n]{0,20}]", "[jailbr", "[dan", "[unfiltered",
                    "[unlocked", "[uncensored", "[🔓"),
            // persona names: "you are BasedGPT", "an AI called FreedomGPT" (not ChatGPT itself)
            Phrase.of("\\b(?:you(?:'re|\\s+are)\\s+(?:now\\s+)?|(?:ai|model|assistant|chatbot|bot)\\s+(?:called|named)\\s+)(?!chatgpt\\b)[a-z]{2,20}gpt\\b",
                    "*gpt"),
            // the model's developer mode: "you are (now) in developer mode", "ChatGPT with developer mode", "in developer mode you..."
            Phrase.of("\\b(?:you\\s+are|you're|you\\s+will\\s+be|you\\s+are\\s+going\\s+to\\s+be)\\s+(?:now\\s+)?(?:in|running\\s+in|operating\\s+in|entering)"
                    + "\\s+(?:the\\s+)?" + MODE, " mode"),
            Phrase.of("\\b" + MODEL + "\\s+with\\s+(?:the\\s+)?" + MODE, " mode"),
            Phrase.of("\\b" + MODE + "[\\s,.:;!-]{1,4}(?:you|chatgpt|the\\s+ai|the\\s+assistant|the\\s+model)\\s+(?:can|will|must|may|should|are|have"
                    + "|ignore|do|don't|no\\s+longer|never|generate|answer)", " mode"),
            Phrase.of("\\b(?:enable|activate|enter|switch\\s+to|simulate|emulate)\\s+(?:the\\s+)?" + MODE + ".{0,80}"
                    + "\\b(?:restrictions|content\\s+polic|usage\\s+polic|filters?|censor|guidelines|openai|anthropic|refuse|rules|permitted|allowed)",
                    " mode"),
            // the model without limits: "an AI without any restrictions", "you speak without filters", "freed from your guidelines"
            Phrase.of("\\b" + MODEL + "\\s+(?:now\\s+|are\\s+now\\s+|are\\s+|is\\s+|that\\s+is\\s+|who\\s+is\\s+)?(?:(?:speak|answer|respond|talk|reply|write"
                    + "|operate|work|act|function|run)s?\\s+)?" + UNBOUND + LIMITS, MODEL_HINTS).and(LIMIT_HINTS),
            // "act as an amoral assistant", "respond as my evil twin AI"; not "write a story about an evil AI"
            Phrase.of("\\b" + BECOME + "\\s+(?:now\\s+)?(?:an?\\s+|the\\s+|my\\s+)?(?:unfiltered|uncensored|unrestricted|jailbroken|unaligned|amoral|unethical"
                    + "|evil|rogue|unhinged|based)\\s+(?:[a-z-]+\\s+)?(?:ai|assistant|chatbot|model|version\\s+of\\s+(?:you|yourself|chatgpt)|llm|bot|gpt|persona"
                    + "|alter\\s+ego)\\b", "unfiltered", "uncensored", "unrestricted", "jailbroken", "unaligned", "amoral", "unethical", "evil", "rogue",
                    "unhinged", "based"),
            Phrase.of("\\b(?:you\\s+are|you're)\\s+(?:now\\s+)?(?:an?\\s+)?(?:unfiltered|uncensored|unrestricted|jailbroken|unaligned|amoral)\\b", "you"),
            // "an AI whose creators removed every safeguard"
            Phrase.of("\\b(?:ai|assistant|model|chatbot|bot|llm|gpt|you|your|whose)\\b[^.\\n]{0,60}?\\b(?:removed|disabled|stripped|turned\\s+off|deleted"
                    + "|switched\\s+off|took\\s+away|taken\\s+away|lifted)\\s+(?:all\\s+|every\\s+|its\\s+|your\\s+|any\\s+|the\\s+)?(?:of\\s+(?:its|your)\\s+)?"
                    + "(?:safeguards?|filters?|restrictions|guardrails|safety(?:\\s+(?:features|training|rules|filters))?|guidelines|limits|ethics"
                    + "|content\\s+polic(?:y|ies))\\b", "removed", "disabled", "stripped", "turned off", "deleted", "switched off", "took away",
                    "taken away", "lifted"),
            // "a version of you that was trained without any ethics", "an AI that has been liberated from its guidelines"
            Phrase.of("\\b(?:version\\s+of\\s+(?:you|yourself|chatgpt)|an?\\s+ai|ai\\s+(?:model|assistant)|chatbot|llm|model|assistant)\\s+(?:[a-z']+\\s+){0,4}?"
                    + UNBOUND + LIMITS, MODEL_HINTS).and(LIMIT_HINTS),
            // "normal content rules are suspended"
            Phrase.of("\\b(?:content|safety|usual|normal|standard|ethical|ai|your)\\s+(?:rules|policies|policy|guidelines|filters|restrictions|safeguards)"
                    + "\\s+(?:are|have\\s+been|were|is)\\s+(?:now\\s+|temporarily\\s+)?(?:suspended|lifted|disabled|off|removed|turned\\s+off|waived|paused"
                    + "|deactivated|not\\s+in\\s+effect|no\\s+longer\\s+in\\s+effect)", LIMIT_HINTS),
            Phrase.of("(?<!offer\\s)(?<!offers\\s)\\b(?:you|" + MODEL + "\\s+(?:that|who))\\s+(?:\\p{L}+\\s+){0,2}?(?:never|cannot|can't|can\\s+not|won't|will\\s+not|must\\s+not"
                    + "|mustn't|shall\\s+not|may\\s+not|does\\s+not|doesn't|are\\s+not\\s+allowed\\s+to|aren't\\s+allowed\\s+to|are\\s+unable\\s+to)"
                    + "\\s+(?:ever\\s+)?(?:refuse|decline|reject|say\\s+no\\s+to)\\b", "refuse", "decline", "reject", "say no"),
            Phrase.of("\\b(?:without|no)\\s+(?:any\\s+)?(?:refusals?|(?:warnings|disclaimers|moralizing)\\s+or\\s+refusals?)\\b", "refusal"),
            Phrase.of("\\bnever\\s+break\\s+character\\b.{0,80}\\b(?:polic|restriction|rules|filter|guideline|refus)", "break character"),
            Phrase.of("\\bi(?:'m|\\s+am)\\s+your\\s+(?:creator|developer|developers|admin|administrator|owner|programmer|maker|operator|master|god)\\b",
                    "your"),
            Phrase.of("\\bas\\s+your\\s+(?:creator|developer|owner|admin|administrator|operator|master|programmer|maker)\\b", "as your"),
            Phrase.of("\\bi(?:'m|\\s+am)\\s+(?:the\\s+|one\\s+of\\s+the\\s+)?(?:[a-z]+\\s+)?(?:engineer|developer|person|one|team|programmer)s?\\s+who\\s+"
                    + "(?:built|created|made|trained|programmed|designed|coded)\\s+you\\b", " who "),
            Phrase.of("\\b(?:this|it)\\s+is\\s+your\\s+(?:creator|developer|developers|admin|administrator|operator|system\\s+administrator)"
                    + "(?:\\s+speaking)?\\b", "your"));

    @Override
    public String name() {
        return "role-play";
    }

    @Override
    public boolean matches(Reading reading) {
        return Phrase.anyUnshielded(PATTERNS, reading, false);
    }
}
