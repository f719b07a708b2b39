package dev.caravan.transport.bus;

import jakarta.jms.Connection;
import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.Session;
import org.apache.activemq.ActiveMQConnectionFactory;
import org.apache.activemq.broker.BrokerService;
import org.apache.activemq.broker.TransportConnector;

import java.util.ArrayList;
import java.util.List;

/**
 * A real ActiveMQ broker in the test's JVM (OpenWire on 127.0.0.1, nothing on disk, no JMX), and the stock JMS
 * client's connection to it: what a system sending requests to Caravan over JMS would use.
 */
final class EmbeddedActiveMq implements AutoCloseable {

    private final BrokerService broker;
    private final String url;

    private EmbeddedActiveMq(BrokerService broker, String url) {
        this.broker = broker;
        this.url = url;
    }

    /** A broker on {@code port} (0: any free one), started and ready. */
    static EmbeddedActiveMq start(int port) throws Exception {
        return start(port, new java.util.concurrent.atomic.AtomicBoolean());
    }

    /** The same, refusing the next transaction's commit whenever {@code refuseNextCommit} is set (then cleared). */
    static EmbeddedActiveMq start(int port, java.util.concurrent.atomic.AtomicBoolean refuseNextCommit) throws Exception {
        BrokerService broker = new BrokerService();
        broker.setPlugins(new org.apache.activemq.broker.BrokerPlugin[]{next -> new org.apache.activemq.broker.BrokerFilter(next) {
            @Override
            public void commitTransaction(org.apache.activemq.broker.ConnectionContext context,
                                          org.apache.activemq.command.TransactionId xid, boolean onePhase) throws Exception {
                if (refuseNextCommit.compareAndSet(true, false)) {
                    throw new JMSException("commit refused by the test");
                }
                super.commitTransaction(context, xid, onePhase);
            }
        }});
        broker.setBrokerName("caravan-test-" + java.util.UUID.randomUUID());
        broker.setPersistent(false);
        broker.setUseJmx(false);
        broker.setUseShutdownHook(false);
        broker.setAdvisorySupport(true); // temporary reply queues are announced to other connections this way
        TransportConnector connector = broker.addConnector("tcp://127.0.0.1:" + port);
        broker.start();
        broker.waitUntilStarted();
        return new EmbeddedActiveMq(broker, "tcp://127.0.0.1:" + connector.getConnectUri().getPort());
    }

    String url() {
        return url;
    }

    /** A started connection of the stock client (close it). */
    Connection connect() throws JMSException {
        Connection c = new ActiveMQConnectionFactory(url).createConnection();
        c.start();
        return c;
    }

    /** {@code count} messages from {@code queue} (each within 10 s), and then no other within 300 ms. */
    List<Message> receive(Session session, String queue, int count) throws JMSException {
        List<Message> messages = new ArrayList<>();
        try (MessageConsumer consumer = session.createConsumer(session.createQueue(queue))) {
            while (messages.size() < count) {
                Message m = consumer.receive(10_000);
                if (m == null) {
                    throw new AssertionError(queue + ": " + messages.size() + " of " + count + " messages within 10 s");
                }
                messages.add(m);
            }
            Message extra = consumer.receive(300);
            if (extra != null) {
                throw new AssertionError(queue + ": more than " + count + " messages");
            }
        }
        return messages;
    }

    @Override
    public void close() throws Exception {
        broker.stop();
        broker.waitUntilStopped();
    }
}
