package dev.caravan.policy.cache;

/**
 * One complete, successful answer as the cache keeps it: the canonical (OpenAI chat-completion) body as JSON bytes,
 * what it cost when it was made (what a hit saves), and the labels a clear-by-namespace-or-model matches.
 *
 * @param body      the canonical answer body, UTF-8 JSON (its {@code id} and {@code created} are replaced on a hit)
 * @param costNanos what the upstream call cost, in nano-dollars
 * @param model     the model name the client sent
 * @param namespace the request's cache namespace ({@code default} when none was given)
 * @param storedAtMillis when it was stored (epoch millis)
 */
public record StoredAnswer(byte[] body, long costNanos, String model, String namespace, long storedAtMillis) {

    /** What the entry weighs in a byte-bounded store: the body plus a fixed overhead for the record and its key. */
    public int weight() {
        return body.length + 200;
    }
}
