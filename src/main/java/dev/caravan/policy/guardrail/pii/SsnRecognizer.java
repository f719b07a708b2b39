package dev.caravan.policy.guardrail.pii;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * US SSN as AAA-GG-SSSS or AAA GG SSSS. The separators are required: a bare nine-digit run is far more often an
 * order, account or tracking number than an SSN. Area 000, 666 and 900-999, group 00 and serial 0000 are never
 * issued, so they are not SSNs.
 */
final class SsnRecognizer implements Recognizer {
    private static final Pattern SSN = Pattern.compile("(?<![\\w-])(\\d{3})([- ])(\\d{2})\\2(\\d{4})(?![\\w-])");

    @Override
    public Entity entity() {
        return Entity.SSN;
    }

    @Override
    public void find(String text, List<Finding> out) {
        Matcher m = SSN.matcher(text);
        while (m.find()) {
            int area = Integer.parseInt(m.group(1));
            boolean validArea = area != 0 && area != 666 && area < 900;
            if (validArea && !m.group(3).equals("00") && !m.group(4).equals("0000")) {
                out.add(new Finding(Entity.SSN, m.start(), m.end(), "us-ssn"));
            }
        }
    }
}
