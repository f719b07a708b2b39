package dev.caravan.policy.guardrail.pii;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Provider API keys and other secrets. Prefixed keys with a fixed shape (AWS key ids, GitHub, Slack, Google) are
 * flagged on pattern; the loose shapes ({@code sk-...}, AWS secret keys) must also look random (see
 * {@link #MIN_ENTROPY}); a JWT must have a header that decodes to JSON with "alg"; a private-key block is one
 * finding from BEGIN to END.
 */
final class SecretRecognizer implements Recognizer {
    /**
     * Bits per char a loose-shaped key body must reach. A random base62 body of 32+ chars measures about 4.5-5;
     * hyphenated English ("this-is-not-a-real-key-name") about 3.2-3.7; so 4.0 separates them with margin.
     */
    static final double MIN_ENTROPY = 4.0;

    /** {@code hint}: a literal every match contains; a text without it skips the regex (most prompts have none). */
    private record Shape(String kind, String hint, Pattern pattern, boolean needsEntropy) {
    }

    private static final String B = "(?<![A-Za-z0-9_-])";
    private static final String E = "(?![A-Za-z0-9_-])";

    private static final List<Shape> SHAPES = List.of(
            new Shape("anthropic-api-key", "sk-ant-", Pattern.compile(B + "sk-ant-(?:[a-z]+\\d{2}-)?[A-Za-z0-9_-]{32,200}" + E), true),
            new Shape("openai-api-key", "sk-", Pattern.compile(B + "sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}" + E), true),
            new Shape("aws-access-key", "A", Pattern.compile("(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])"), false),
            new Shape("github-token", "gh", Pattern.compile(B + "gh[pousr]_[A-Za-z0-9]{36,255}" + E), false),
            new Shape("github-token", "github_pat_", Pattern.compile(B + "github_pat_[A-Za-z0-9_]{60,255}" + E), false),
            new Shape("slack-token", "xox", Pattern.compile(B + "xox[baprs]-(?:[0-9]{6,}-){1,3}[A-Za-z0-9-]{8,100}" + E), false),
            new Shape("google-api-key", "AIza", Pattern.compile(B + "AIza[0-9A-Za-z_-]{35}" + E), false));

    private static final Pattern AWS_SECRET = Pattern.compile("(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])");
    private static final Pattern AWS_CONTEXT = Pattern.compile("(?i)aws|secret[_ ]?access|secret[_ ]?key");
    private static final Pattern JWT = Pattern.compile(
            B + "(eyJ[A-Za-z0-9_-]{10,2000})\\.[A-Za-z0-9_-]{10,8000}\\.[A-Za-z0-9_-]{10,2000}" + E);
    private static final Pattern KEY_BEGIN = Pattern.compile("-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----");
    private static final Pattern KEY_END = Pattern.compile("-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----");
    private static final Pattern BASE64_LINES = Pattern.compile("(?:\\r?\\n[A-Za-z0-9+/=]{1,100})+");

    @Override
    public Entity entity() {
        return Entity.SECRET;
    }

    @Override
    public void find(String text, List<Finding> out) {
        for (Shape shape : SHAPES) {
            if (!text.contains(shape.hint)) {
                continue;
            }
            Matcher m = shape.pattern.matcher(text);
            while (m.find()) {
                if (!shape.needsEntropy || looksRandom(m.group())) {
                    out.add(new Finding(Entity.SECRET, m.start(), m.end(), shape.kind));
                }
            }
        }
        awsSecretKeys(text, out);
        jwts(text, out);
        privateKeys(text, out);
    }

    /** A 40-char base64 run is an AWS secret key only with AWS context just before it and mixed-case entropy. */
    private static void awsSecretKeys(String text, List<Finding> out) {
        if (!AWS_CONTEXT.matcher(text).find()) {
            return;
        }
        Matcher m = AWS_SECRET.matcher(text);
        while (m.find()) {
            String before = text.substring(Math.max(0, m.start() - 60), m.start());
            String key = m.group();
            // Hex (git SHAs) has no upper-and-lower mix and at most 4 bits per char: both rule it out.
            boolean mixedCase = !key.equals(key.toLowerCase(Locale.ROOT)) && !key.equals(key.toUpperCase(Locale.ROOT));
            if (mixedCase && entropy(key) >= MIN_ENTROPY && AWS_CONTEXT.matcher(before).find()) {
                out.add(new Finding(Entity.SECRET, m.start(), m.end(), "aws-secret-key"));
            }
        }
    }

    private static void jwts(String text, List<Finding> out) {
        if (!text.contains("eyJ")) {
            return;
        }
        Matcher m = JWT.matcher(text);
        while (m.find()) {
            try {
                String header = new String(Base64.getUrlDecoder().decode(m.group(1)), StandardCharsets.UTF_8).trim();
                if (header.startsWith("{") && header.endsWith("}") && header.contains("\"alg\"")) {
                    out.add(new Finding(Entity.SECRET, m.start(), m.end(), "jwt"));
                }
            } catch (IllegalArgumentException notBase64) {
                // not a JWT header: skip
            }
        }
    }

    /** BEGIN to END is one finding; a block pasted without its END runs over the base64 lines after BEGIN. */
    private static void privateKeys(String text, List<Finding> out) {
        if (!text.contains("PRIVATE KEY-----")) {
            return;
        }
        Matcher begin = KEY_BEGIN.matcher(text);
        Matcher end = KEY_END.matcher(text);
        int from = 0;
        while (begin.find(from)) {
            int stop;
            if (end.find(begin.end())) {
                stop = end.end();
            } else {
                Matcher lines = BASE64_LINES.matcher(text).region(begin.end(), text.length());
                stop = lines.lookingAt() ? lines.end() : begin.end();
            }
            out.add(new Finding(Entity.SECRET, begin.start(), stop, "private-key"));
            from = stop;
            if (from >= text.length()) {
                break;
            }
        }
    }

    /** A key body is random-looking when it carries a digit and reaches {@link #MIN_ENTROPY} bits per char. */
    static boolean looksRandom(String key) {
        return key.chars().anyMatch(Character::isDigit) && entropy(key) >= MIN_ENTROPY;
    }

    /** Shannon entropy in bits per char over the string's own character frequencies. */
    static double entropy(String s) {
        int[] counts = new int[128];
        int other = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 128) {
                counts[c]++;
            } else {
                other++;
            }
        }
        double bits = 0;
        double n = s.length();
        for (int count : counts) {
            if (count > 0) {
                double p = count / n;
                bits -= p * (Math.log(p) / Math.log(2));
            }
        }
        if (other > 0) {
            double p = other / n;
            bits -= p * (Math.log(p) / Math.log(2));
        }
        return bits;
    }
}
