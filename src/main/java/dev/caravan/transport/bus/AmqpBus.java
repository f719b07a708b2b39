package dev.caravan.transport.bus;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.LongString;
import com.rabbitmq.client.ShutdownSignalException;
import dev.caravan.config.BusConfig;
import dev.caravan.core.ExchangeKeys;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.component.springrabbit.DefaultListenerContainerFactory;
import org.apache.camel.component.springrabbit.MessagePropertiesConverter;
import org.apache.camel.component.springrabbit.SpringRabbitMQComponent;
import org.apache.camel.component.springrabbit.SpringRabbitMQEndpoint;
import org.apache.camel.spi.HeaderFilterStrategy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.amqp.AmqpException;
import org.springframework.amqp.core.Address;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.amqp.core.MessageProperties;
import org.springframework.amqp.rabbit.connection.CachingConnectionFactory;
import org.springframework.amqp.rabbit.connection.Connection;
import org.springframework.amqp.rabbit.connection.ConnectionListener;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.amqp.rabbit.listener.AbstractMessageListenerContainer;
import org.springframework.amqp.support.converter.MessageConverter;
import org.springframework.util.backoff.ExponentialBackOff;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The AMQP 0-9-1 bus (RabbitMQ), template {@code bus-amqp} in routes/ingress-bus.camel.yaml: consumers on
 * {@code bus.amqp.requestQueue} (camel-spring-rabbitmq's listener container, acknowledging each message only when
 * the route has finished it), the classic RabbitMQ RPC pattern: each reply goes to the message's {@code reply-to} (a
 * queue, or direct reply-to {@code amq.rabbitmq.reply-to}) with its {@code correlation-id} (its {@code message-id} when
 * it has none), and a dead letter to {@code bus.amqp.deadLetterQueue}. Both queues are declared durable when missing.
 *
 * <p>Replies and dead letters are published with publisher confirms and waited for before the message is
 * acknowledged: a gateway killed in between leaves the message to be redelivered, and the reply memory answers the
 * redelivery without a second call. The listener never retries a message itself (the door retries transient
 * failures) and never rejects one without requeueing it (with no dead-letter exchange on the request queue, a
 * reject drops the message); a message it could not finish because the broker went away while its reply was being
 * published stays on the queue for the next delivery, and one whose reply the broker refuses (a reply-to naming no
 * exchange) is dead-lettered as {@code reply_failed}, so nothing is redelivered for ever. Publishing waits for
 * confirms, so it runs on a pool of its own (the template's {@code threads} hop), never on an event loop.
 */
public final class AmqpBus implements BusAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(AmqpBus.class);

    /** The component the template's consumer names: camel-spring-rabbitmq, configured here. */
    static final String COMPONENT = "caravan-amqp";
    /** The delivery itself, for the reply; not a caravan.* property, which each attempt of the door clears. */
    private static final String REQUEST = "amqp.request";
    /** How long a publish waits for the broker's confirm before the message is left for redelivery. */
    private static final long CONFIRM_TIMEOUT_MILLIS = 10_000;
    /** Never copied to a dead letter: whoever reads the dead-letter queue does not get the sender's key. */

    private volatile boolean up;
    private volatile boolean downLogged;
    private CachingConnectionFactory connections;
    private RabbitTemplate template;
    private String where;
    private String requestQueue;
    private String deadLetterQueue;
    /** The first threads replies were published on (at most 64 names), for the test that keeps them off the loops. */
    private final Set<String> sendThreads = java.util.concurrent.ConcurrentHashMap.newKeySet();

    @Override
    public String name() {
        return "amqp";
    }

    @Override
    public boolean configured(BusConfig bus) {
        return bus.amqp() != null;
    }

    @Override
    public Map<String, Object> prepare(CamelContext context, BusConfig bus) {
        BusConfig.Amqp amqp = bus.amqp();
        requestQueue = amqp.requestQueue();
        deadLetterQueue = amqp.deadLetterQueue();
        com.rabbitmq.client.ConnectionFactory rabbit = new com.rabbitmq.client.ConnectionFactory();
        try {
            // amqps: the client's setUri would trust every certificate; here the JVM's trust store and the host name
            // are checked, as for any TLS upstream
            boolean tls = amqp.url().regionMatches(true, 0, "amqps://", 0, 8);
            rabbit.setUri(tls ? "amqp" + amqp.url().substring(5) : amqp.url());
            if (tls) {
                if (URI.create(amqp.url()).getPort() < 0) {
                    rabbit.setPort(com.rabbitmq.client.ConnectionFactory.DEFAULT_AMQP_OVER_SSL_PORT);
                }
                rabbit.useSslProtocol(javax.net.ssl.SSLContext.getDefault());
                rabbit.enableHostnameVerification();
            }
        } catch (Exception e) {
            // never the URL itself in the message: its user info may hold a password
            throw new IllegalArgumentException("bus.amqp.url is not an amqp:// or amqps:// URL");
        }
        if (amqp.username() != null) {
            rabbit.setUsername(amqp.username());
        }
        if (amqp.password() != null) {
            rabbit.setPassword(amqp.password());
        }
        rabbit.setAutomaticRecoveryEnabled(false); // Spring's listener container reconnects, with the backoff below
        rabbit.setConnectionTimeout(5_000);
        rabbit.setExceptionHandler(new QuietDriver());
        where = displayName(amqp.url(), rabbit.getHost() + ":" + rabbit.getPort());
        String user = rabbit.getUsername();

        connections = new CachingConnectionFactory(rabbit);
        connections.setConnectionNameStrategy(f -> "caravan-bus-amqp");
        connections.setPublisherConfirmType(CachingConnectionFactory.ConfirmType.SIMPLE);
        connections.setChannelCacheSize(Math.max(25, amqp.concurrency() * 2));
        connections.addConnectionListener(new Watch());
        template = new RabbitTemplate(connections);

        SpringRabbitMQComponent component = new SpringRabbitMQComponent();
        component.setConnectionFactory(connections);
        component.setAutoDeclare(false); // the queues are declared on each new connection (Watch), not by the listener
        component.setMessageConverter(new NativeMessage());
        component.setMessagePropertiesConverter(new NoHeaders());
        component.setListenerContainerFactory(new Containers());
        context.addComponent(COMPONENT, component);
        context.getRegistry().bind("bus-amqp", this);
        LOG.info("Bus amqp: consuming {} on {} as {} (dead letters to {}); connecting in the background", requestQueue,
                where, user, deadLetterQueue);
        return Map.of("requestQueue", requestQueue, "concurrency", amqp.concurrency());
    }

    /** The broker's host, port and vhost as a log may show them (never the URL's user info). */
    private static String displayName(String url, String fallback) {
        try {
            URI uri = URI.create(url);
            return uri.getScheme() + "://" + uri.getHost() + (uri.getPort() < 0 ? "" : ":" + uri.getPort())
                    + (uri.getPath() == null || uri.getPath().isEmpty() ? "" : uri.getPath());
        } catch (RuntimeException e) {
            return fallback;
        }
    }

    @Override
    public boolean up() {
        return up;
    }

    /**
     * First step of the template: the delivery (the whole AMQP message, which {@link NativeMessage} left as the body)
     * becomes {@code caravan.busMessage}: its headers under the contract's names, its {@code message-id} (set by the
     * sender; RabbitMQ gives none, and keeps it on a redelivery), whether it names a {@code reply-to}.
     */
    public void read(Exchange exchange) {
        Message request = exchange.getMessage().getBody(Message.class);
        MessageProperties p = request.getMessageProperties();
        Map<String, String> properties = new HashMap<>();
        p.getHeaders().forEach((name, value) -> {
            String text = text(value);
            if (name != null && text != null) {
                // AMQP header names may hold dashes; caravan_api_key (the JMS spelling) is taken as well
                String lower = name.toLowerCase(Locale.ROOT);
                properties.put(lower.startsWith("caravan_") ? lower.replace('_', '-') : lower, text);
            }
        });
        if (p.getContentType() != null && !properties.containsKey("content-type")) {
            properties.put("content-type", p.getContentType());
        }
        String replyTo = p.getReplyTo();
        exchange.setProperty(REQUEST, request);
        exchange.setProperty(ExchangeKeys.BUS_MESSAGE, new BusMessage(name(), messageId(p), properties,
                request.getBody(), replyTo != null && !replyTo.isBlank()));
        exchange.getMessage().setBody(null);
    }

    private static String text(Object value) {
        if (value == null) {
            return null;
        }
        if (value instanceof byte[] bytes) {
            return new String(bytes, StandardCharsets.UTF_8);
        }
        if (value instanceof LongString || value instanceof CharSequence || value instanceof Number
                || value instanceof Boolean) {
            return value.toString();
        }
        return null; // tables, arrays, timestamps: not contract properties
    }

    /**
     * What a redelivery of this message shares with it: its {@code message-id}; most clients set none (RabbitMQ
     * assigns none), so then its {@code correlation-id} at its {@code reply-to}, which an RPC client makes unique per
     * request and keeps when it resends; null when it has neither (a duplicate of it is not recognised).
     */
    static String messageId(MessageProperties p) {
        String id = blankToNull(p.getMessageId());
        if (id != null) {
            return id;
        }
        String correlation = blankToNull(p.getCorrelationId());
        String replyTo = blankToNull(p.getReplyTo());
        return correlation == null || replyTo == null ? null : "correlation:" + correlation + "@" + replyTo;
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }

    /**
     * Last step of the template, on the hop's thread (never an event loop): the reply's parts in order to the
     * message's {@code reply-to}, each with its correlation id and {@code caravan-*} headers, and the dead letter when
     * there is one; then the broker's confirms are awaited. Only when this returns does the listener acknowledge the
     * message; when it throws, the message is left on the queue (its reply is remembered: the redelivery replays it).
     */
    public void send(Exchange exchange) {
        if (sendThreads.size() < 64) {
            sendThreads.add(Thread.currentThread().getName());
        }
        BusReply reply = exchange.getProperty(ExchangeKeys.BUS_REPLY, BusReply.class);
        Message request = exchange.getProperty(REQUEST, Message.class);
        MessageProperties rp = request.getMessageProperties();
        String correlation = rp.getCorrelationId() != null ? rp.getCorrelationId() : rp.getMessageId();
        Address replyTo = rp.getReplyTo() == null || rp.getReplyTo().isBlank() ? null : rp.getReplyToAddress();
        String reason = reply.deadLetter() != null ? reply.deadLetter() : replyTo == null ? "no_reply_destination" : null;
        try {
            template.invoke(ops -> {
                if (replyTo != null) {
                    for (BusReply.Part part : reply.parts()) {
                        ops.send(replyTo.getExchangeName(), replyTo.getRoutingKey(),
                                replyMessage(part, correlation, rp.getReceivedDeliveryMode()));
                    }
                }
                if (reason != null) {
                    ops.send("", deadLetterQueue, deadLetter(request, exchange, reply, reason));
                }
                ops.waitForConfirmsOrDie(CONFIRM_TIMEOUT_MILLIS);
                return null;
            });
        } catch (AmqpException | ShutdownSignalException e) {
            if (!up || replyTo == null) {
                throw e; // the broker went away: the message stays on the queue, and its redelivery replays the reply
            }
            // the broker is there but refused the reply (its reply-to names an exchange that does not exist, say):
            // a redelivery would fail the same way for ever, so the message is dead-lettered instead
            LOG.warn("Bus amqp: the reply to {} could not be published ({}); the message is dead-lettered",
                    exchange.getProperty(ExchangeKeys.BUS_MESSAGE), BusAdapter.rootCause(e).getClass().getSimpleName());
            template.invoke(ops -> {
                ops.send("", deadLetterQueue, deadLetter(request, exchange, reply, "reply_failed"));
                ops.waitForConfirmsOrDie(CONFIRM_TIMEOUT_MILLIS);
                return null;
            });
        }
    }

    private static Message replyMessage(BusReply.Part part, String correlation, MessageDeliveryMode requestMode) {
        MessageProperties p = new MessageProperties();
        p.setContentType("application/json");
        p.setContentEncoding("utf-8");
        p.setCorrelationId(correlation);
        // as durable as the request: a persistent request's reply survives a broker restart on a durable reply queue
        p.setDeliveryMode(requestMode == MessageDeliveryMode.PERSISTENT ? MessageDeliveryMode.PERSISTENT
                : MessageDeliveryMode.NON_PERSISTENT);
        part.properties().forEach(p::setHeader);
        return new Message(part.body(), p);
    }

    /** The original request (body and headers as sent, less the key) with why, the status and the error body. */
    private static Message deadLetter(Message request, Exchange exchange, BusReply reply, String reason) {
        MessageProperties rp = request.getMessageProperties();
        MessageProperties p = new MessageProperties();
        p.setContentType(rp.getContentType());
        p.setContentEncoding(rp.getContentEncoding());
        p.setMessageId(rp.getMessageId());
        p.setCorrelationId(rp.getCorrelationId());
        p.setReplyTo(rp.getReplyTo());
        p.setDeliveryMode(MessageDeliveryMode.PERSISTENT);
        rp.getHeaders().forEach((name, value) -> {
            if (name != null && !BusMessage.CREDENTIALS.contains(name.toLowerCase(Locale.ROOT))) {
                p.setHeader(name, value);
            }
        });
        p.setHeader(BusReply.REASON, reason);
        p.setHeader(BusReply.STATUS, Integer.toString(reply.status()));
        p.setHeader("caravan-error", new String(reply.body(), StandardCharsets.UTF_8));
        String requestId = reply.properties().get(BusReply.REQUEST_ID);
        if (requestId != null) {
            p.setHeader(BusReply.REQUEST_ID, requestId);
        }
        byte[] original = BusDoor.originalBody(exchange);
        return new Message(original != null ? original : request.getBody(), p);
    }

    /** The threads {@link #send} ran on so far (for tests). */
    Set<String> sendThreads() {
        return Set.copyOf(sendThreads);
    }

    @Override
    public void close() {
        if (connections != null) {
            connections.destroy();
        }
        up = false;
    }

    /**
     * Each new connection (the first, and every one after the broker came back) declares both queues, durable,
     * when they are missing, before the listener's consumers use it; and the connection's state is what
     * {@code /health/ready} shows.
     */
    private final class Watch implements ConnectionListener {
        @Override
        public void onCreate(Connection connection) {
            declare(connection, requestQueue);
            declare(connection, deadLetterQueue);
            up = true;
            if (downLogged) {
                LOG.info("Bus amqp: connected to {} again", where);
            }
            downLogged = false;
        }

        @Override
        public void onClose(Connection connection) {
            up = false;
        }

        @Override
        public void onShutDown(ShutdownSignalException signal) {
            if (!signal.isHardError()) {
                return; // one channel closed (a refused publish, say): the connection is still there
            }
            up = false;
            if (!signal.isInitiatedByApplication() && !downLogged) {
                LOG.warn("Bus amqp: the connection to {} was lost ({}); reconnecting with backoff", where,
                        signal.getReason() == null ? "closed" : signal.getReason().protocolMethodName());
                downLogged = true;
            }
        }

        @Override
        public void onFailed(Exception e) {
            up = false;
            if (!downLogged) {
                LOG.warn("Bus amqp: cannot reach {} ({}); retrying with backoff while HTTP serves", where,
                        BusAdapter.describe(e));
                downLogged = true;
            }
        }
    }

    /** A passive declare first (an existing queue, whatever its arguments, is used as it is), else a durable one. */
    private static void declare(Connection connection, String queue) {
        try (Channel channel = connection.createChannel(false)) {
            channel.queueDeclarePassive(queue);
            return;
        } catch (Exception missing) {
            // 404: the channel is closed; declare on a new one
        }
        try (Channel channel = connection.createChannel(false)) {
            channel.queueDeclare(queue, true, false, false, null);
            LOG.info("Bus amqp: declared durable queue {}", queue);
        } catch (Exception e) {
            LOG.warn("Bus amqp: cannot declare queue {} ({})", queue, e.getClass().getSimpleName());
        }
    }

    /**
     * The listener containers: no retries of their own (the door retries transient failures with backoff), a
     * message whose route failed put back on the queue (never rejected: with no dead-letter exchange that drops it),
     * reconnects with a doubling backoff (1 s to 30 s), a queue missing at start or a refused login waited out, and one
     * log line per failure that never shows the message (its headers hold a key, its body a prompt).
     */
    private static final class Containers extends DefaultListenerContainerFactory {
        @Override
        public AbstractMessageListenerContainer createListenerContainer(SpringRabbitMQEndpoint endpoint) {
            AbstractMessageListenerContainer container = super.createListenerContainer(endpoint);
            container.setBeanName("caravan-amqp-consumer"); // its threads' names: caravan-amqp-consumer-1, -2 …
            container.setAdviceChain();
            container.setDefaultRequeueRejected(true);
            container.setMissingQueuesFatal(false);
            container.setPossibleAuthenticationFailureFatal(false); // a refused login is retried too, not the end
            ExponentialBackOff backOff = new ExponentialBackOff(1_000, 2);
            backOff.setMaxInterval(30_000);
            container.setRecoveryBackOff(backOff);
            container.setErrorHandler(t -> LOG.warn("Bus amqp: a message could not be finished ({}); it stays on the "
                    + "queue for redelivery", BusAdapter.rootCause(t).getClass().getSimpleName()));
            return container;
        }
    }

    /**
     * The client's connection errors (a reset, a broker that speaks no AMQP) at DEBUG: the client logs each one,
     * with a stack trace, on every reconnect attempt; Caravan logs the outage once ({@link Watch}).
     */
    private static final class QuietDriver extends com.rabbitmq.client.impl.DefaultExceptionHandler {
        @Override
        protected void log(String message, Throwable e) {
            LOG.debug("Bus amqp: {} ({})", message, e.toString());
        }
    }

    /** The delivery as it came: the template's first step reads its properties and body itself. */
    private static final class NativeMessage implements MessageConverter {
        @Override
        public Message toMessage(Object object, MessageProperties properties) {
            throw new UnsupportedOperationException("the amqp bus publishes through its own template");
        }

        @Override
        public Object fromMessage(Message message) {
            return message;
        }
    }

    /** No Camel headers from a delivery: its key stays in the message, and no header can reach the upstream. */
    private static final class NoHeaders implements MessagePropertiesConverter {
        @Override
        public MessageProperties toMessageProperties(Exchange exchange) {
            return new MessageProperties();
        }

        @Override
        public Map<String, Object> fromMessageProperties(MessageProperties properties, Exchange exchange) {
            return Map.of();
        }

        @Override
        public void setHeaderFilterStrategy(HeaderFilterStrategy strategy) {
        }
    }
}
