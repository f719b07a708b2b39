package dev.caravan.auth;

/**
 * What a principal may do. {@code user} calls models only; the other three also reach {@code /admin}, within their
 * scope: {@code viewer} reads its team's spend, requests and audit; {@code team-admin} also manages its own team's
 * keys (and may lower, never raise, its team's budget and limits); {@code admin} does everything.
 */
public enum Role {
    USER("user"), VIEWER("viewer"), TEAM_ADMIN("team-admin"), ADMIN("admin");

    private final String text;

    Role(String text) {
        this.text = text;
    }

    public String text() {
        return text;
    }

    /** The role named {@code text}, or null when it names none. */
    public static Role parse(String text) {
        if (text != null) {
            for (Role r : values()) {
                if (r.text.equals(text)) {
                    return r;
                }
            }
        }
        return null;
    }

    /** Whether this role may give {@code other} to a key it makes or changes (never more than its own). */
    public boolean mayGrant(Role other) {
        return other != null && other.ordinal() <= ordinal();
    }

    @Override
    public String toString() {
        return text;
    }
}
