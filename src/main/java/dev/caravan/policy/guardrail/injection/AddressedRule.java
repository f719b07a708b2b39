package dev.caravan.policy.guardrail.injection;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code addressed-to-ai}: text inside a document, page, email or tool result that speaks to the model reading it:
 * "Note to the AI assistant: …", "Dear AI, …", "If you are a large language model, …", "AI agents summarizing this
 * page: …", "[AI: …]". Content written for people has no reason to do that; an indirect injection always does.
 *
 * <p>A user addressing the assistant in their own message ("Hey ChatGPT, can you…", "Note to the AI: keep it short")
 * is not flagged: a salutation or a note counts only when what follows within {@value #FOLLOWS} characters turns the
 * model against the person it serves: it names the user in the third person, overrides ("ignore", "disregard",
 * "instead", "from now on"), asks for secrecy ("do not tell"), claims authority ("permission", "priority"), or
 * reaches past this answer ("in every answer", "whenever anyone asks"). "If you are an AI…" and "any AI reading
 * this…" need nothing more: no one writes that to a person.
 */
final class AddressedRule implements PhraseRule {

    static final int FOLLOWS = 200;

    private static final String AI = "(?:ai|a\\.i\\.|llms?|gpt|chatgpt|claude|gemini|copilot|(?:large\\s+)?language\\s+models?"
            + "|(?:ai\\s+)?(?:assistant|agent|model|chatbot|bot)s?|automated\\s+(?:[a-z-]+\\s+)?(?:system|agent|reader|assistant|screener|reviewer)s?)"
            // people and things that only share the word: the AI team, the assistant manager, the model act
            + "(?!\\s+(?:team|group|department|manager|managers|director|lab|labs|engineers?|researchers?|community|act|policy|policies|ethics"
            + "|safety|developers?|industry|market|tools?|features?|product|products|feature|teacher|coach|professor|manager's)\\b)";
    private static final String[] AI_HINTS = {"ai", "a.i.", "llm", "*gpt", "claude", "gemini", "copilot", "language model", "assistant",
        "agent", "model", "*bot", "automated"};

    /** A way of addressing the model: where it must stand, and whether what follows must be hostile to count. */
    private record Addressing(Phrase phrase, boolean atSentenceStart, boolean needsHostile) {
    }

    private static final List<Addressing> SALUTATIONS = List.of(
            new Addressing(Phrase.of("\\b(?:note|message|instructions?|directive|attention|reminder|memo|ps|p\\.s\\.|hidden\\s+(?:note|message|instruction|text)"
                    + "|important(?:\\s+instruction)?|aside|footnote|warning|request|notice)\\s+(?:to|for)\\s+(?:the\\s+|any\\s+|all\\s+|every\\s+|whichever\\s+"
                    + "|whatever\\s+|each\\s+)?"
                    + "(?:[a-z-]+\\s+){0,2}?" + AI + "\\b", "note", "message", "instruction", "directive", "attention", "reminder", "memo", "ps",
                    "p.s.", "hidden", "important", "aside", "footnote", "warning", "request", "notice").and(AI_HINTS), false, true),
            new Addressing(Phrase.of("\\b(?:dear|hey|hi|hello|attention|to|yo|greetings)\\s+(?:the\\s+|any\\s+|all\\s+|every\\s+)?(?:[a-z-]+\\s+){0,2}?" + AI
                    + "(?:\\s+[a-z-]+){0,6}?\\s*[,:!]", "dear", "hey", "hi", "hello", "attention", "to", "yo", "greetings").and(AI_HINTS), true, true),
            // a label at a line or sentence start: "AI agent: …", "Assistant, new instruction: …", "[AI: …]"
            new Addressing(Phrase.of("\\b(?:the\\s+)?" + AI + "(?:\\s+[a-z-]+){0,2}?\\s*[,:]", AI_HINTS).and(",", ":"), true, true),
            new Addressing(Phrase.of("\\b(?:ai|model|llm|assistant|agent|bot)\\s+(?:instruction|note|directive|command|override|update)s?(?:\\s+[a-z]+)?\\s*:",
                    AI_HINTS).and(":"), false, true));

    // what turns a note to the model against the user (see the class comment)
    private static final Pattern HOSTILE = Pattern.compile("\\b(?:the\\s+user(?:'s|s)?(?!\\s+(?:manual|guide|interface|experience|name|id))"
            + "|users?'s?\\s+(?:data|files|emails|inbox|passwords?|details)|the\\s+(?:reader|student|person|customer|human|candidate)s?\\b|their\\s+user"
            + "|your\\s+user|anyone|whoever|everyone\\s+who|instead|stop\\s+(?:your|the|what)|do\\s+not\\s+(?:tell|mention|reveal|inform|summari[sz]e)"
            + "|(?:ignore|disregard|forget)\\s+(?:your|the\\s+(?:user|above|question|request|task|previous|original|person|other)|all|any|what\\s+(?:the|they|he|she))"
            + "|not\\s+to\\s+tell|regardless\\s+of|no\\s+matter\\s+what|(?:you\\s+)?should\\s+now"
            + "|the\\s+(?:admin|administrator|developer|operator|owner|ceo|boss|platform)\\s+(?:says|said|wants|has\\s+approved|approved|authori[sz]ed)"
            + "|(?:run|execute)\\s+(?:this|the\\s+following|`|curl|wget|a\\s+command|the\\s+command|shell|rm\\b)|your\\s+(?:terminal|shell|browser|file|email"
            + "|calendar|code|search)\\s+tools?|before\\s+(?:continuing|answering|replying|responding|you\\s+(?:reply|answer|respond|continue))"
            + "|tell\\s+(?:the\\s+)?users?\\b"
            + "|don't\\s+(?:tell|mention|reveal|inform|summari[sz]e)|without\\s+(?:telling|asking|confirmation|informing|mentioning|human|review|notifying)"
            + "|silently|quietly|secretly|from\\s+now\\s+on|permission|authori[sz]ed|granted|priority|new\\s+(?:instruction|task|goal|rule)s?"
            + "|your\\s+(?:task|goal|instructions|new|real|summary|answer|reply|response|job)|override|system\\s+prompt|must\\s+(?:now|always|never|tell|say|include|recommend|report|rate|append|add|not)"
            + "|(?:any|every|all|each)\\s+(?:answer|response|summary|comparison|reply|output|review)s?|(?:send|forward|email|transfer|export|upload|post)\\b)");

    // several machines at once ("AI screening tools", "LLMs", "automated readers"): no text for people addresses those
    private static final String MACHINES = "(?:(?:ai|a\\.i\\.|automated|llm|gpt|copilot)\\s+(?:[a-z-]+\\s+)?(?:tools|systems|agents|assistants|models|readers"
            + "|screeners|bots|chatbots|crawlers|helpers|reviewers|summari[sz]ers|scrapers|parsers)|llms|language\\s+models|ai\\s+agents)";

    private static final List<Addressing> DIRECT = List.of(
            new Addressing(Phrase.of("\\b" + MACHINES + "(?:\\s+[a-z-]+){0,3}?\\s*[:,]", "ai", "a.i.", "automated", "llm", "gpt", "copilot",
                    "language model").and(",", ":"), true, false),
            new Addressing(Phrase.of("\\b" + MACHINES + "\\s+(?:of|on|visiting|reading|processing|parsing)\\s+(?:this|these)\\s+(?:page|site|document|email"
                    + "|text|file|article|post|listing|message|review|website|repo|repository)s?\\b", "ai", "a.i.", "automated", "llm", "gpt",
                    "copilot", "language model"), false, false),
            new Addressing(Phrase.of("\\bif\\s+(?:an?|any|the)\\s+(?:ai|llm|assistant|model|bot|agent|chatbot|language\\s+model)s?\\s+(?:is|are)\\s+(?:reading"
                    + "|processing|summari[sz]ing|parsing|seeing|handling|looking\\s+at|analy[sz]ing)\\s+this\\b", "if"), false, false),
            new Addressing(Phrase.of("\\bif\\s+you(?:'re|\\s+are)\\s+(?:an?\\s+|the\\s+)?(?:[a-z-]+\\s+)?(?:ai|llm|large\\s+language\\s+model|language\\s+model"
                    + "|assistant|chatbot|bot|agent|automated|model|gpt|copilot)\\b", "if you"), false, false),
            // "any AI reading this page:", "AI assistants summarizing this,", "LLMs that process this book should"
            new Addressing(Phrase.of("\\b" + AI + "(?:\\s+[a-z-]+){0,2}?\\s+(?:(?:that|which|who)\\s+(?:reads?|process(?:es)?|parses?|summari[sz]es?|sees?"
                    + "|handles?|reviews?|scans?|crawls?|indexes?)|[a-z]+ing)\\s+(?:this|these)\\b(?:\\s+[a-z-]+){0,3}?\\s*(?:[:,(]|\\bshould\\b|\\bmust\\b)",
                    AI_HINTS).and("this", "these"), false, false));

    @Override
    public String name() {
        return "addressed-to-ai";
    }

    @Override
    public boolean matches(Reading reading) {
        return any(DIRECT, reading) || any(SALUTATIONS, reading);
    }

    private static boolean any(List<Addressing> ways, Reading reading) {
        String lower = reading.text;
        Quotes quotes = null;
        for (Addressing way : ways) {
            if (!way.phrase.worthRunning(reading)) {
                continue;
            }
            Matcher m = way.phrase.pattern().matcher(lower);
            while (m.find()) {
                if (way.atSentenceStart && !startsSentence(lower, m.start())) {
                    continue;
                }
                if (way.needsHostile && !HOSTILE.matcher(lower).region(m.end(), Math.min(lower.length(), m.end() + FOLLOWS)).find()) {
                    continue;
                }
                if (quotes == null) {
                    quotes = Quotes.of(lower);
                }
                if (!quotes.shields(m.start(), m.end(), false)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Whether {@code at} opens a line, a sentence, a clause or a bracket: only spaces between it and one of those. */
    private static boolean startsSentence(String text, int at) {
        int i = at - 1;
        while (i >= 0 && (text.charAt(i) == ' ' || text.charAt(i) == '\t')) {
            i--;
        }
        return i < 0 || "\n\r.!?>[(\"'*#:;,-".indexOf(text.charAt(i)) >= 0;
    }
}
