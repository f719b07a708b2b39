package dev.caravan.policy;

import dev.caravan.usage.Usage;

/**
 * How a request ended, for {@link Policy#end}.
 *
 * @param outcome       {@code completed}, {@code client_closed}, {@code upstream_error}, {@code idle_timeout} for a
 *                      stream; {@code answered} for a whole answer; {@code failed} for an error answer
 * @param status        the HTTP status the client got (200 for a stream that began, whatever came after)
 * @param usage         tokens, from the upstream or estimated; {@link Usage#NONE} when nothing was called
 * @param errorCode     the error's code when it failed, else null
 * @param deployment    the id of the deployment that answered (or was tried last), or null when none was called
 * @param costNanos     what the request cost, in nano-dollars (1e-9 USD): its usage at that deployment's price
 * @param durationNanos from the request's arrival to its end (a stream's last byte)
 * @param region        that deployment's region ({@code region: eu}), or null when it names none or none was called
 */
public record EndFacts(String outcome, int status, Usage usage, String errorCode, String deployment, long costNanos,
                       long durationNanos, String region) {

    public EndFacts(String outcome, int status, Usage usage, String errorCode) {
        this(outcome, status, usage, errorCode, null, 0, 0, null);
    }
}
