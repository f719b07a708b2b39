package dev.caravan.policy.guardrail.pii;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * local@domain.tld: a dot-atom local part (no leading, trailing or doubled dot), one or more DNS labels, and a
 * TLD of at least two letters. A sentence's full stop after the TLD is not part of the address. An SSH remote
 * ({@code git@github.com:org/repo}: a ":" and a path right after the host) is a login, not a mailbox.
 */
final class EmailRecognizer implements Recognizer {
    // Bounded quantifiers and dot-free labels: no nested ambiguity, so matching stays linear.
    private static final Pattern EMAIL = Pattern.compile(
            "(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}"
                    + "@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9_-]|\\.[A-Za-z0-9])");

    @Override
    public Entity entity() {
        return Entity.EMAIL;
    }

    @Override
    public void find(String text, List<Finding> out) {
        if (text.indexOf('@') < 0) {
            return;
        }
        Matcher m = EMAIL.matcher(text);
        while (m.find()) {
            String local = text.substring(m.start(), text.indexOf('@', m.start()));
            boolean sshRemote = m.end() + 1 < text.length() && text.charAt(m.end()) == ':'
                    && Recognizer.isWordChar(text.charAt(m.end() + 1));
            if (!local.endsWith(".") && !local.contains("..") && !sshRemote) {
                out.add(new Finding(Entity.EMAIL, m.start(), m.end(), "email"));
            }
        }
    }
}
