package dev.caravan.config;

/**
 * Requests and tokens per minute for one key, team or model ({@code limits: { rpm, tpm }}).
 *
 * @param rpm requests per minute, or {@link #NONE_SET} when not limited
 * @param tpm tokens (prompt plus completion) per minute, or {@link #NONE_SET} when not limited
 */
public record Limits(long rpm, long tpm) {

    public static final long NONE_SET = -1;
    public static final Limits NONE = new Limits(NONE_SET, NONE_SET);

    public boolean limitsRequests() {
        return rpm >= 0;
    }

    public boolean limitsTokens() {
        return tpm >= 0;
    }

    public boolean isEmpty() {
        return !limitsRequests() && !limitsTokens();
    }
}
