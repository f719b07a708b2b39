package dev.caravan.transport.bus;

/**
 * The bus's idempotent repository: which messages were answered and with what, so a redelivered or duplicated
 * message gets the same reply again without a second upstream call or a second charge. It keeps replies, not only
 * ids (Camel's Idempotent Consumer EIP would skip the duplicate, leaving its sender waiting). In this process
 * ({@link LocalReplyMemory}), or in Redis so a restarted or second gateway knows them too ({@link RedisReplyMemory}).
 *
 * <p>{@link #claim} may wait: it is called on a bus consumer's thread, never on an event loop. The others return at
 * once.
 */
public interface ReplyMemory extends AutoCloseable {

    /** What a claim found. */
    sealed interface Claim permits Owned, Remembered {
    }

    /** Nobody answered this message yet: the caller now owns it, and must {@link #remember} or {@link #forget} it. */
    record Owned() implements Claim {
    }

    /** It was answered before: send this reply again. */
    record Remembered(BusReply reply) implements Claim {
    }

    /**
     * Claims {@code key}, waiting while another delivery of the same message is in flight (here, or on a live
     * replica) until it is answered or given up.
     */
    Claim claim(String key) throws InterruptedException;

    /** The reply {@code key} got; later claims of it are {@link Remembered} until the memory's time-to-live ends. */
    void remember(String key, BusReply reply);

    /** Gives {@code key} up unanswered (a transient failure): the next delivery tries again. */
    void forget(String key);

    @Override
    default void close() {
    }
}
