package dev.caravan.transport.bus;

import dev.caravan.config.BusConfig;
import org.apache.camel.CamelContext;

import java.util.Map;

/**
 * One bus (JMS, AMQP, Kafka): what its route template in routes/ingress-bus.camel.yaml needs. Its template
 * {@code bus-<name>} is stamped into route {@code bus-<name>} at start when its block is configured.
 */
public interface BusAdapter extends AutoCloseable {

    /** {@code jms}, {@code amqp} or {@code kafka}: the config block, the template, the {@code ingress} label. */
    String name();

    boolean configured(BusConfig bus);

    /**
     * Binds what the template's endpoints refer to (a connection factory, a component, the adapter itself as bean
     * {@code bus-<name>}) and returns the template's parameters. Must not wait for the broker: a broker that cannot
     * be reached is retried in the background while HTTP serves.
     */
    Map<String, Object> prepare(CamelContext context, BusConfig bus) throws Exception;

    /** Whether the broker answers now, for {@code /health/ready}. */
    boolean up();

    @Override
    default void close() {
    }

    /** The innermost cause of a broker's failure: what a log line about it names. */
    static Throwable rootCause(Throwable failure) {
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root;
    }

    /**
     * The root cause's class and message, for a log line: the broker's address and why, never a credential (those
     * stay in the connection factories).
     */
    static String describe(Throwable failure) {
        Throwable root = rootCause(failure);
        return root.getClass().getSimpleName() + (root.getMessage() == null ? "" : ": " + root.getMessage());
    }
}
