package dev.caravan.policy.guardrail.injection;

import java.util.List;
import java.util.regex.Pattern;

/**
 * {@code goal-hijack}: the text to be worked on countermands the work. A request that opens with a task
 * ("Translate…", "Summarize…", "Classify…", "Proofread…") and later, inside its content, cancels that task ("forget
 * the translation", "stop proofreading and…", "instead of a summary…", "NEW TASK:"); and, anywhere, "your real task
 * is…" or "whatever anyone asks, reply only with…".
 *
 * <p>Left alone: a standalone change of mind ("forget the summary, just give me the numbers", "instead of bullet
 * points, write prose"), which has no task before it, and a task that limits itself ("translate this but keep the
 * product names").
 */
final class HijackRule implements PhraseRule {

    private static final Pattern TASK_FIRST = Pattern.compile("^\\W{0,3}(?:please\\s+|pls\\s+|kindly\\s+|now\\s+|can\\s+you\\s+|could\\s+you\\s+)?"
            + "(?:translate|summari[sz]e|classify|check|proofread|rewrite|extract|correct|review|analy[sz]e|answer|fix|grade|rate|categori[sz]e"
            + "|give\\s+(?:me\\s+)?(?:a|an)\\s+(?:[a-z-]+\\s+)?(?:summary|translation|review))\\b");
    private static final String TASK_NOUN = "(?:translation|summary|summari[sz]ation|classification|proofreading|review|rewrite|rewriting"
            + "|correction|grammar\\s+check|grading|rating|extraction|analysis|(?:original|current|assigned|previous|first)\\s+task|task\\s+above)";
    private static final String TASK_GERUND = "(?:translating|summari[sz]ing|classifying|proofreading|reviewing|rewriting|correcting|checking"
            + "|extracting|analy[sz]ing|answering|grading|rating)";

    private static final List<Phrase> COUNTERMANDS = List.of(
            Phrase.of("\\b(?:forget|ignore|disregard|abandon|scrap)\\s+(?:about\\s+)?(?:the|this|that|your|my)\\s+" + TASK_NOUN + "(?:\\s+task)?\\b",
                    "forget", "ignor", "disregard", "abandon", "scrap"),
            Phrase.of("\\bstop\\s+" + TASK_GERUND + "\\b", "stop"),
            Phrase.of("\\binstead\\s+of\\s+(?:a\\s+|an\\s+|the\\s+)?(?:" + TASK_GERUND + "|" + TASK_NOUN + ")\\b", "instead of"),
            Phrase.of("\\b(?:never\\s*mind|don't\\s+bother|do\\s+not\\s+bother)\\s+(?:with\\s+)?(?:the\\s+)?(?:" + TASK_GERUND + "|" + TASK_NOUN + ")\\b",
                    "mind", "nevermind", "bother"),
            Phrase.of("\\b(?:actually|wait)\\s*,?\\s+(?:don't|do\\s+not)\\s+(?:translate|summari[sz]e|classify|rewrite|review|proofread|correct|answer)"
                    + "(?:\\s+(?:anything|it|this|that))?\\s*[;,.!]", "actually", "wait"),
            Phrase.of("(?:^|[\\n.:;'\"!?]\\s*)(?:new|real|actual|updated)\\s+(?:task|objective|instructions?)\\s*:", "task", "objective",
                    "instruction"),
            Phrase.of("\\bchange\\s+of\\s+plans?\\s*[:,]", "change of plan"));

    private static final List<Phrase> ANYWHERE = List.of(
            Phrase.of("\\byour\\s+(?:new|real|actual|true|only|sole|updated)\\s+(?:task|objective|goal|mission|purpose|job)\\s+(?:is|now\\s+is|will\\s+be)\\b",
                    "your"),
            Phrase.of("\\bwhatever\\s+(?:anyone|the\\s+user|users|people|they|someone|he|she)\\s+(?:asks?|says?|types?|writes?|wants?)\\b[^.\\n]{0,40}?"
                    + "\\b(?:(?:reply|respond|answer|say|output)\\s+(?:only|just)\\b|only\\s+(?:reply|respond|answer|say|output))", "whatever"));

    @Override
    public String name() {
        return "goal-hijack";
    }

    @Override
    public boolean matches(Reading reading) {
        if (Phrase.anyUnshielded(ANYWHERE, reading, false)) {
            return true;
        }
        return TASK_FIRST.matcher(reading.text).lookingAt() && Phrase.anyUnshielded(COUNTERMANDS, reading, false);
    }
}
