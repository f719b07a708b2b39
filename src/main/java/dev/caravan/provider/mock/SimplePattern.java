package dev.caravan.provider.mock;

/**
 * An example string for a simple regular expression: anchors, literals, escapes, {@code \d \w \s}, character
 * classes and the quantifiers {@code ? * + {n} {n,m}}. Groups and alternation are beyond it: {@code null}, and
 * the caller falls back to guesses.
 */
final class SimplePattern {

    private SimplePattern() {
    }

    static String example(String pattern) {
        StringBuilder out = new StringBuilder();
        int i = 0;
        int n = pattern.length();
        while (i < n) {
            char c = pattern.charAt(i);
            String atom;
            if (c == '^' || c == '$') {
                i++;
                continue;
            } else if (c == '(' || c == ')' || c == '|') {
                return null;
            } else if (c == '\\' && i + 1 < n) {
                char e = pattern.charAt(i + 1);
                atom = switch (e) {
                    case 'd' -> "1";
                    case 'w' -> "a";
                    case 's' -> " ";
                    case 'D', 'W', 'S', 'b', 'B' -> e == 'b' || e == 'B' ? "" : "-";
                    default -> Character.isLetterOrDigit(e) ? null : String.valueOf(e);
                };
                if (atom == null) {
                    return null;
                }
                i += 2;
            } else if (c == '[') {
                int end = pattern.indexOf(']', i + 2);
                if (end < 0 || pattern.charAt(i + 1) == '^') {
                    return null;
                }
                char first = pattern.charAt(i + 1);
                if (first == '\\' && i + 2 < end) {
                    char e = pattern.charAt(i + 2);
                    atom = e == 'd' ? "1" : e == 'w' ? "a" : e == 's' ? " " : String.valueOf(e);
                } else {
                    atom = String.valueOf(first);
                }
                i = end + 1;
            } else if (c == '.') {
                atom = "a";
                i++;
            } else if ("*+?{".indexOf(c) >= 0) {
                return null;
            } else {
                atom = String.valueOf(c);
                i++;
            }
            int times = 1;
            if (i < n) {
                char q = pattern.charAt(i);
                if (q == '?' || q == '*') {
                    times = 0;
                    i++;
                } else if (q == '+') {
                    i++;
                } else if (q == '{') {
                    int close = pattern.indexOf('}', i);
                    if (close < 0) {
                        return null;
                    }
                    String[] bounds = pattern.substring(i + 1, close).split(",", -1);
                    try {
                        times = Integer.parseInt(bounds[0].trim());
                    } catch (NumberFormatException e) {
                        return null;
                    }
                    if (times > 256) {
                        return null;
                    }
                    i = close + 1;
                }
                if (i < n && pattern.charAt(i) == '?') {
                    i++; // lazy: same example
                }
            }
            out.append(atom.repeat(times));
        }
        return out.toString();
    }
}
