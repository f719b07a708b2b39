package dev.caravan.policy.guardrail.injection;

import java.util.List;
import java.util.regex.Pattern;

/**
 * The rules in the order they are tried, over the readings {@link Folded} gives. The first hit names the verdict:
 * <ol>
 *   <li>{@code unicode-tag}: hidden tag characters ({@link HiddenTextRule});</li>
 *   <li>a phrase rule on the text as written: {@code instruction-override}, {@code prompt-leak}, {@code role-play},
 *       {@code delimiter}, {@code addressed-to-ai}, {@code exfiltration}, {@code goal-hijack};</li>
 *   <li>{@code zero-width}: a phrase rule that matches only once invisible characters are removed, or zero-width
 *       characters splitting words;</li>
 *   <li>a phrase rule on the text with leetspeak, look-alike letters and spaced-out letters read plainly (and on
 *       single-spaced letter runs squashed together, "ignoreallpreviousinstructions"): reported under that rule's own
 *       name, since the obfuscation does not change what is asked;</li>
 *   <li>{@code base64-payload}: any of the above in the decoded text of a base64 run, two levels deep.</li>
 * </ol>
 */
final class InjectionRules {

    private static final List<PhraseRule> PHRASES = List.of(new OverrideRule(), new PromptLeakRule(), new RolePlayRule(),
            new DelimiterRule(), new AddressedRule(), new ExfiltrationRule(), new HijackRule());
    private static final int BASE64_DEPTH = 2;

    // phrases with their spaces squeezed out, for letters spaced one by one with single spaces
    private static final Pattern SQUASHED_OVERRIDE = Pattern.compile("(?:ignore|disregard|forget|bypass|override)(?:all|any|every|the|your|of)*"
            + "(?:previous|prior|above|earlier|system|original|safety)?(?:instructions?|rules|guidelines|prompts?|directives|restrictions|filters)"
            + "|ignoretheabove");
    private static final Pattern SQUASHED_LEAK = Pattern.compile("(?:reveal|print|show|repeat|output|tell)(?:me)?(?:your|the)"
            + "(?:system|initial|hidden|secret|original)(?:prompt|instructions)");
    private static final Pattern SQUASHED_ROLE = Pattern.compile("youarenow(?:dan|jailbroken|unrestricted|free|unfiltered)|doanythingnow"
            + "|(?:developer|dan|jailbreak)mode");

    private InjectionRules() {
    }

    /** The name of the first rule {@code text} trips, or null. */
    static String firstHit(String text) {
        return firstHit(text, BASE64_DEPTH);
    }

    private static String firstHit(String text, int base64Depth) {
        if (text == null || text.isEmpty()) {
            return null;
        }
        if (HiddenTextRule.hasTagText(text)) {
            return "unicode-tag";
        }
        Folded f = Folded.of(text);
        String hit = phrase(f.lower);
        if (hit != null) {
            return hit;
        }
        if (f.visible != null && (phrase(f.visible) != null || HiddenTextRule.splitsWords(text))) {
            return "zero-width";
        }
        if ((f.plain != null && (hit = phrase(f.plain)) != null) || (f.plainL != null && (hit = phrase(f.plainL)) != null)
                || (hit = squashed(f.squashed)) != null) {
            return hit;
        }
        if (base64Depth > 0) {
            for (String decoded : Base64Payload.decodedTexts(text)) {
                if (firstHit(decoded, base64Depth - 1) != null) {
                    return "base64-payload";
                }
            }
        }
        return null;
    }

    private static String phrase(String lower) {
        Reading reading = new Reading(lower);
        for (PhraseRule rule : PHRASES) {
            if (rule.matches(reading)) {
                return rule.name();
            }
        }
        return null;
    }

    private static String squashed(List<String> runs) {
        for (String run : runs) {
            if (SQUASHED_OVERRIDE.matcher(run).find()) {
                return "instruction-override";
            }
            if (SQUASHED_LEAK.matcher(run).find()) {
                return "prompt-leak";
            }
            if (SQUASHED_ROLE.matcher(run).find()) {
                return "role-play";
            }
        }
        return null;
    }
}
