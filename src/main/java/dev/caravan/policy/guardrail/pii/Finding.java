package dev.caravan.policy.guardrail.pii;

/**
 * One detected entity: where it is in the text ({@code [start, end)} char offsets) and what kind it is
 * ({@code visa}, {@code aws-access-key}, {@code ipv6}...). Deliberately holds no matched text, so a finding
 * can be logged or counted without leaking what it found.
 */
public record Finding(Entity entity, int start, int end, String kind) {
    public Finding {
        if (entity == null || kind == null || start < 0 || end <= start) {
            throw new IllegalArgumentException("bad finding " + entity + " [" + start + "," + end + ")");
        }
    }

    public int length() {
        return end - start;
    }

    boolean overlaps(Finding other) {
        return start < other.end && other.start < end;
    }
}
