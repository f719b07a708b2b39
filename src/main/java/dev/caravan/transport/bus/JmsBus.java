package dev.caravan.transport.bus;

import dev.caravan.config.BusConfig;
import jakarta.jms.BytesMessage;
import jakarta.jms.Connection;
import jakarta.jms.DeliveryMode;
import jakarta.jms.Destination;
import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import org.apache.activemq.ActiveMQConnectionFactory;
import org.apache.activemq.transport.TransportListener;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.component.jms.DefaultJmsMessageListenerContainer;
import org.apache.camel.component.jms.JmsEndpoint;
import org.apache.camel.component.jms.JmsMessage;
import org.apache.camel.component.jms.MessageListenerContainerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.util.backoff.ExponentialBackOff;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The JMS bus (template {@code bus-jms} in routes/ingress-bus.camel.yaml): a transacted consumer on
 * {@code bus.jms.requestQueue} of an ActiveMQ broker (OpenWire). Each message is read into a {@link BusMessage}, and
 * its reply parts (to {@code JMSReplyTo}, correlated by its {@code JMSCorrelationID}, else its {@code JMSMessageID})
 * and its dead letter (to {@code bus.jms.deadLetterQueue}) are sent in the consumer's own transacted session: they
 * reach the broker together with the message's acknowledgement at commit, or not at all (a gateway killed before the
 * commit leaves the message to be redelivered and sends nothing). Camel's own reply is off ({@code disableReplyTo}):
 * it sends one message, and a reply here may be several (chunks) plus a dead letter.
 * <p>
 * JMS property names must be Java identifiers: the contract's {@code caravan-api-key} is {@code caravan_api_key}
 * here (both spellings are read), and the reply's {@code caravan-status} is {@code caravan_status}, and so on.
 */
public final class JmsBus implements BusAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(JmsBus.class);

    /** The consumer's JMS session and message, kept beside the exchange: the spine replaces the Camel message. */
    private static final String SESSION = "busJms.session";
    private static final String REQUEST = "busJms.request";
    /** Never copied to a dead letter: whoever reads the dead-letter queue does not get the sender's key. */

    private volatile boolean up;
    private volatile boolean warned;
    private String where = "";
    private String requestQueue = "";
    private volatile String lastSender;
    private volatile String deadLetterQueue;

    @Override
    public String name() {
        return "jms";
    }

    @Override
    public boolean configured(BusConfig bus) {
        return bus.jms() != null;
    }

    @Override
    public Map<String, Object> prepare(CamelContext context, BusConfig bus) {
        BusConfig.Jms jms = bus.jms();
        deadLetterQueue = jms.deadLetterQueue();
        requestQueue = jms.requestQueue();
        where = redacted(jms.url());
        ActiveMQConnectionFactory factory = new TrackingConnectionFactory(jms.url());
        if (jms.username() != null) {
            factory.setUserName(jms.username());
        }
        if (jms.password() != null) {
            factory.setPassword(jms.password()); // to the factory only; JmsBus and BusConfig never print it
        }
        // the broker is known to be down from the first failed connect until a connect succeeds
        factory.setTransportListener(new TransportListener() {
            @Override
            public void onCommand(Object command) {
            }

            @Override
            public void onException(java.io.IOException error) {
                down(error);
            }

            @Override
            public void transportInterupted() {
                down(null);
            }

            @Override
            public void transportResumed() {
                connected();
            }
        });
        // each consumer holds one message at a time (ActiveMQ's default would push up to 1,000 to each): a flood
        // waits in the broker, not in this heap, and a consumer waiting for room under bus.maxInFlight holds just one
        factory.getPrefetchPolicy().setQueuePrefetch(1);
        // a transacted session acknowledges a message only at commit; these redeliveries are for failures outside
        // Caravan's own handling (a reply that cannot be sent, a commit refused, a gateway killed): after them the
        // broker moves the message to its own DLQ (ActiveMQ.DLQ by default), not to bus.jms.deadLetterQueue
        factory.getRedeliveryPolicy().setMaximumRedeliveries(Math.max(1, bus.redeliveries()));
        factory.getRedeliveryPolicy().setInitialRedeliveryDelay(1000);
        context.getRegistry().bind("bus-jms-connection-factory", factory);
        context.getRegistry().bind("bus-jms-listeners", (MessageListenerContainerFactory) BackingOffContainer::new);
        context.getRegistry().bind("bus-jms", this);
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("requestQueue", jms.requestQueue());
        parameters.put("concurrency", jms.concurrency());
        parameters.put("recoveryInterval", Long.toString(recoveryMillis(context)));
        return parameters;
    }

    /** The first wait before reconnecting to a broker that is down (then doubled up to 30 s). */
    private static long recoveryMillis(CamelContext context) {
        String v = context.getPropertiesComponent().resolveProperty("caravan.bus.jms.recoveryInterval").orElse("1000");
        return Math.max(50, Long.parseLong(v.trim()));
    }

    @Override
    public boolean up() {
        return up;
    }

    /** Once per outage (and at a start with the broker away): a warning; the consumers try again meanwhile. */
    private void down(Exception cause) {
        boolean was = up;
        up = false;
        if (was || !warned) {
            warned = true;
            LOG.warn("JMS broker {} cannot be reached ({}): its consumers try again with backoff, HTTP serves meanwhile",
                    where, cause == null ? "connection interrupted" : BusAdapter.describe(cause));
        }
    }

    private void connected() {
        if (!up) {
            up = true;
            LOG.info("JMS broker {} connected: consuming {}", where, requestQueue);
        }
    }

    /** A broker URL as a log line shows it: no query (ActiveMQ accepts jms.password there). */
    static String redacted(String url) {
        int q = url.indexOf('?');
        return q < 0 ? url : url.substring(0, q) + "?…";
    }

    /**
     * First step of the route: the JMS message as a {@link BusMessage} (property {@code caravan.busMessage}). A bean
     * step, not a {@code setProperty} with a method expression: that runs on a copy of the exchange, whose JMS message
     * has lost its session.
     */
    public void read(Exchange exchange) throws JMSException {
        JmsMessage in = exchange.getIn(JmsMessage.class);
        Message message = in.getJmsMessage();
        exchange.setProperty(SESSION, in.getJmsSession());
        exchange.setProperty(REQUEST, message);
        Map<String, String> properties = new LinkedHashMap<>();
        for (String name : propertyNames(message)) {
            Object value = message.getObjectProperty(name);
            if (value != null) {
                properties.putIfAbsent(contractName(name), value.toString());
            }
        }
        exchange.setProperty(dev.caravan.core.ExchangeKeys.BUS_MESSAGE, new BusMessage(name(),
                message.getJMSMessageID(), properties, body(message), message.getJMSReplyTo() != null));
    }

    /**
     * Last step of the route (on the route's own threads, never a Netty event loop): the reply's parts in order to
     * {@code JMSReplyTo}, and the dead letter when there is one, in the consumer's transacted session; the commit
     * after the route ends sends them and acknowledges the message at once.
     */
    public void send(Exchange exchange) throws JMSException {
        BusReply reply = exchange.getProperty(dev.caravan.core.ExchangeKeys.BUS_REPLY, BusReply.class);
        Session session = exchange.getProperty(SESSION, Session.class);
        Message request = exchange.getProperty(REQUEST, Message.class);
        Destination replyTo = request.getJMSReplyTo();
        String correlation = request.getJMSCorrelationID() != null ? request.getJMSCorrelationID()
                : request.getJMSMessageID();
        if (replyTo != null) {
            try (MessageProducer producer = session.createProducer(replyTo)) {
                for (BusReply.Part part : reply.parts()) {
                    TextMessage m = session.createTextMessage(new String(part.body(), StandardCharsets.UTF_8));
                    m.setJMSCorrelationID(correlation);
                    for (Map.Entry<String, String> p : part.properties().entrySet()) {
                        m.setStringProperty(jmsName(p.getKey()), p.getValue());
                    }
                    producer.send(m, request.getJMSDeliveryMode(), Message.DEFAULT_PRIORITY, Message.DEFAULT_TIME_TO_LIVE);
                }
            }
        }
        String reason = reply.deadLetter() != null ? reply.deadLetter() : replyTo == null ? "no_reply_destination" : null;
        if (reason != null) {
            deadLetter(session, request, exchange, reply, reason);
        }
        if (lastSender == null) {
            LOG.debug("JMS replies are sent on thread {}", Thread.currentThread().getName());
        }
        lastSender = Thread.currentThread().getName();
    }

    /** The original request (body and properties as sent, less the key) with why, the status and the error body. */
    private void deadLetter(Session session, Message request, Exchange exchange, BusReply reply, String reason)
            throws JMSException {
        byte[] original = BusDoor.originalBody(exchange);
        if (original == null) {
            original = body(request);
        }
        Message dead;
        if (request instanceof BytesMessage) {
            BytesMessage b = session.createBytesMessage();
            b.writeBytes(original);
            dead = b;
        } else {
            dead = session.createTextMessage(new String(original, StandardCharsets.UTF_8));
        }
        for (String name : propertyNames(request)) {
            if (!BusMessage.CREDENTIALS.contains(contractName(name)) && !name.startsWith("JMS")) {
                dead.setObjectProperty(name, request.getObjectProperty(name));
            }
        }
        dead.setJMSCorrelationID(request.getJMSCorrelationID());
        dead.setJMSReplyTo(request.getJMSReplyTo());
        dead.setStringProperty(jmsName(BusReply.REASON), reason);
        dead.setStringProperty(jmsName(BusReply.STATUS), Integer.toString(reply.status()));
        dead.setStringProperty("caravan_error", new String(reply.body(), StandardCharsets.UTF_8));
        dead.setStringProperty("caravan_original_message_id", request.getJMSMessageID());
        String requestId = reply.properties().get(BusReply.REQUEST_ID);
        if (requestId != null) {
            dead.setStringProperty(jmsName(BusReply.REQUEST_ID), requestId);
        }
        try (MessageProducer producer = session.createProducer(session.createQueue(deadLetterQueue))) {
            producer.send(dead, DeliveryMode.PERSISTENT, Message.DEFAULT_PRIORITY, Message.DEFAULT_TIME_TO_LIVE);
        }
    }

    private static java.util.List<String> propertyNames(Message message) throws JMSException {
        java.util.List<String> names = new java.util.ArrayList<>();
        for (Object name : Collections.list(message.getPropertyNames())) {
            names.add(name.toString());
        }
        return names;
    }

    private static byte[] body(Message message) throws JMSException {
        if (message instanceof TextMessage t) {
            String text = t.getText();
            return text == null ? new byte[0] : text.getBytes(StandardCharsets.UTF_8);
        }
        if (message instanceof BytesMessage b) {
            b.reset();
            byte[] bytes = new byte[(int) b.getBodyLength()];
            b.readBytes(bytes);
            return bytes;
        }
        return new byte[0]; // any other kind of message has no body the door can read: a 400 invalid_json reply
    }

    /** {@code caravan_api_key} -> {@code caravan-api-key}: JMS's spelling of a contract name, back to the contract. */
    static String contractName(String jmsName) {
        String lower = jmsName.toLowerCase(Locale.ROOT);
        return lower.startsWith("caravan_") ? lower.replace('_', '-') : lower;
    }

    /** {@code caravan-status} -> {@code caravan_status}: JMS property names are Java identifiers. */
    static String jmsName(String contractName) {
        return contractName.replace('-', '_');
    }

    /** The thread that sent the last reply (the route's {@code bus-jms-reply} pool, never {@code caravan-io-*}). */
    String lastSenderThread() {
        return lastSender;
    }

    @Override
    public void close() {
        up = false;
    }

    /** Marks the broker up on each connection made, down on each that fails. */
    private final class TrackingConnectionFactory extends ActiveMQConnectionFactory {
        TrackingConnectionFactory(String url) {
            super(url);
        }

        @Override
        public Connection createConnection() throws JMSException {
            try {
                Connection c = super.createConnection();
                connected();
                return c;
            } catch (JMSException | RuntimeException e) {
                down(e);
                throw e;
            }
        }
    }

    /**
     * Spring's listener container with a backoff that doubles: with the broker down at start or gone later, the
     * consumers try again after {@code recoveryInterval}, then twice that, up to 30 s, and go on while HTTP serves.
     */
    private static final class BackingOffContainer extends DefaultJmsMessageListenerContainer {
        BackingOffContainer(JmsEndpoint endpoint) {
            super(endpoint);
        }

        @Override
        public void setRecoveryInterval(long recoveryInterval) {
            ExponentialBackOff backOff = new ExponentialBackOff(recoveryInterval, 2.0);
            backOff.setMaxInterval(30_000);
            setBackOff(backOff);
        }
    }

}
