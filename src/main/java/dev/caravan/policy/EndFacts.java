package dev.caravan.policy;

import dev.caravan.usage.Usage;

/**
 * How a request ended, for {@link Policy#end}.
 *
 * @param outcome   {@code completed}, {@code client_closed}, {@code upstream_error}, {@code idle_timeout} for a
 *                  stream; {@code answered} for a whole answer; {@code failed} for an error answer
 * @param status    the HTTP status the client got (200 for a stream that began, whatever came after)
 * @param usage     tokens, from the upstream or estimated; {@link Usage#NONE} when nothing was called
 * @param errorCode the error's code when it failed, else null
 */
public record EndFacts(String outcome, int status, Usage usage, String errorCode) {
}
