package dev.caravan.transport.bus;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.BusConfig;
import dev.caravan.core.ClientRequest;
import dev.caravan.core.Dialect;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.camel.Exchange;
import org.apache.camel.Message;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.function.Supplier;

/**
 * The bus's door (routes/ingress-bus.camel.yaml): a request message, as its adapter read it, becomes the same
 * captured request an HTTP call is ({@code caravan.clientRequest}: the path its operation names, the key in
 * {@code Authorization}), so authentication, parsing and the whole spine run unchanged; and the answer, or the
 * error, becomes its {@link BusReply}. It also keeps the bus's promises: one upstream call per message
 * ({@link ReplyMemory}), at most {@code bus.maxInFlight} messages per bus at once (a consumer waits for room, which
 * stops it taking messages), transient failures tried again {@code bus.redeliveries} times, and a message that cannot
 * be answered dead-lettered with its reason.
 */
public final class BusDoor {

    /** The retry loop's flag: the last attempt failed transiently and another is due. */
    public static final String RETRY = "caravan.busRetry";
    private static final String ATTEMPT = "caravan.busAttempt";
    private static final String CLAIMED = "caravan.busClaimed";
    private static final String ORIGINAL_BODY = "caravan.busBody";
    /** What each attempt starts from: everything else the last attempt set is cleared. */
    private static final Set<String> KEPT = Set.of(ExchangeKeys.REQUEST_ID, ExchangeKeys.START_NANOS,
            ExchangeKeys.CLIENT_REQUEST, ExchangeKeys.DIALECT, ExchangeKeys.OPERATION, ExchangeKeys.INGRESS,
            ExchangeKeys.BUS_MESSAGE, RETRY, ATTEMPT, CLAIMED, ORIGINAL_BODY);

    private final Supplier<BusConfig> config;
    private final ReplyMemory memory;
    private final Map<String, Semaphore> inFlight = new ConcurrentHashMap<>();
    private final MeterRegistry registry;

    public BusDoor(Supplier<BusConfig> config, ReplyMemory memory, MeterRegistry registry) {
        this.config = config;
        this.memory = memory;
        this.registry = registry;
    }

    /**
     * First step for every bus message (on its consumer's thread, which may wait here): the captured request, then
     * a reply remembered from an earlier delivery (set as {@code caravan.busReply}: the spine is skipped), or the
     * message's claim and a place among the bus's {@code maxInFlight}.
     */
    public void enter(Exchange exchange) throws InterruptedException {
        BusMessage message = exchange.getProperty(ExchangeKeys.BUS_MESSAGE, BusMessage.class);
        exchange.setProperty(ExchangeKeys.START_NANOS, System.nanoTime());
        exchange.setProperty(ExchangeKeys.REQUEST_ID, dev.caravan.transport.http.Ingress.newRequestId());
        exchange.setProperty(ExchangeKeys.INGRESS, message.bus());
        exchange.setProperty(ATTEMPT, 0);
        String path = pathOf(message);
        Map<String, String> headers = new HashMap<>();
        headers.put("content-type", "application/json");
        String key = message.property(BusMessage.API_KEY);
        if (message.property("authorization") != null) {
            headers.put("authorization", message.property("authorization"));
        } else if (key != null) {
            headers.put("authorization", "Bearer " + key);
        }
        for (String passed : new String[]{"anthropic-version", "anthropic-beta", "user-agent"}) {
            if (message.property(passed) != null) {
                headers.put(passed, message.property(passed));
            }
        }
        // a stream is answered whole unless the message asks for its chunks (then the busStream step reads them)
        byte[] body = chunked(message) ? message.body() : wholeAnswer(message.body());
        exchange.setProperty(ExchangeKeys.CLIENT_REQUEST, new ClientRequest("POST", path == null ? "/bus" : path, null,
                headers, body, true));
        exchange.setProperty(ExchangeKeys.DIALECT, Dialect.forPath(path));
        exchange.setProperty(ORIGINAL_BODY, message.body());
        if (path == null) {
            exchange.setProperty(ExchangeKeys.OPERATION, ExchangeKeys.UNKNOWN_API);
            throw GatewayException.badRequest("invalid_operation", BusMessage.OPERATION, "The message property "
                    + BusMessage.OPERATION + " must be chat.completions, embeddings or messages.");
        }
        exchange.setProperty(ExchangeKeys.OPERATION, path.equals("/v1/embeddings") ? ExchangeKeys.EMBEDDINGS : ExchangeKeys.CHAT);
        if (!message.canReply()) {
            throw GatewayException.badRequest("no_reply_destination", null, "The message names no reply destination "
                    + "(JMSReplyTo or reply-to); nothing was called.");
        }
        String dedup = message.dedupKey();
        if (dedup != null) {
            ReplyMemory.Claim claim = memory.claim(dedup);
            if (claim instanceof ReplyMemory.Remembered r) {
                exchange.setProperty(ExchangeKeys.BUS_REPLY, r.reply().replayed());
                counter("caravan_bus_replayed_total", message.bus()).increment();
                return;
            }
            exchange.setProperty(CLAIMED, dedup);
        }
        Semaphore room = room(message.bus());
        room.acquire();
        exchange.getExchangeExtension().addOnCompletion(new org.apache.camel.support.SynchronizationAdapter() {
            @Override
            public void onDone(Exchange done) {
                room.release();
            }
        });
    }

    private Semaphore room(String bus) {
        return inFlight.computeIfAbsent(bus, b -> {
            Semaphore s = new Semaphore(config.get().maxInFlight(), true);
            int max = config.get().maxInFlight();
            io.micrometer.core.instrument.Gauge.builder("caravan_bus_in_flight", s, x -> max - x.availablePermits())
                    .tag("ingress", b).description("bus messages in the pipeline now (at most bus.maxInFlight)")
                    .register(registry);
            return s;
        });
    }

    /** The endpoint a message's {@code caravan-operation} (and {@code caravan-dialect}) names, or null for none. */
    static String pathOf(BusMessage message) {
        String operation = message.property(BusMessage.OPERATION);
        String dialect = message.property(BusMessage.DIALECT);
        boolean anthropic = dialect != null && dialect.trim().toLowerCase(Locale.ROOT).equals("anthropic");
        String op = operation == null || operation.isBlank() ? (anthropic ? "messages" : "chat.completions")
                : operation.trim().toLowerCase(Locale.ROOT);
        return switch (op) {
            case "chat.completions", "chat" -> anthropic ? "/v1/messages" : "/v1/chat/completions";
            case "messages" -> "/v1/messages";
            case "embeddings" -> "/v1/embeddings";
            default -> null;
        };
    }

    /** Whether the message asks a stream's chunks as messages of their own ({@code caravan-stream: chunks}). */
    static boolean chunked(BusMessage message) {
        String stream = message.property(BusMessage.STREAM);
        return stream != null && stream.trim().equalsIgnoreCase("chunks");
    }

    /**
     * A bus reply is one message unless chunks are asked: {@code "stream": true} is answered whole (its usage counted as for any whole
     * answer). Any other body passes as it is, for the door to judge.
     */
    static byte[] wholeAnswer(byte[] body) {
        ObjectNode request = Json.parseObjectOrNull(body);
        if (request == null || !request.path("stream").asBoolean(false)) {
            return body;
        }
        request.put("stream", false);
        request.remove("stream_options");
        return Json.bytes(request);
    }

    /**
     * Each attempt starts from the captured request alone, after the backoff {@link #backoffMillis} gave. A try again
     * is a request of its own, as a client's retry over HTTP would be: a new request id, its own access-log line and
     * ledger row (the spend ledger keeps one row per request id, so a second attempt under the first's id would lose
     * its charge), and the reply names the attempt that answered.
     */
    public void attempt(Exchange exchange) {
        exchange.getProperties().keySet().removeIf(k -> k.startsWith("caravan.") && !KEPT.contains(k));
        exchange.removeProperty(Exchange.EXCEPTION_CAUGHT);
        exchange.setException(null);
        exchange.setProperty(RETRY, false);
        int attempt = exchange.getProperty(ATTEMPT, 0, Integer.class) + 1;
        exchange.setProperty(ATTEMPT, attempt);
        if (attempt > 1) {
            exchange.setProperty(ExchangeKeys.REQUEST_ID, dev.caravan.transport.http.Ingress.newRequestId());
            exchange.setProperty(ExchangeKeys.START_NANOS, System.nanoTime());
        }
        Message out = exchange.getMessage();
        out.removeHeaders("*");
        out.setBody(null);
    }

    /** 0 before the first attempt, then 1 s, 2 s, 4 s … (at most 30 s) before each try again. */
    public long backoffMillis(Exchange exchange) {
        int done = exchange.getProperty(ATTEMPT, 0, Integer.class);
        return done == 0 ? 0 : Math.min(30_000L, 1000L << Math.min(done - 1, 5));
    }

    /** A message refused at the door (its operation, no reply destination): the error is its reply, never retried. */
    public void refused(Exchange exchange) {
        BusMessage message = exchange.getProperty(ExchangeKeys.BUS_MESSAGE, BusMessage.class);
        BusReply reply = reply(exchange, exchange.getProperty(ExchangeKeys.STATUS, 500, Integer.class));
        String code = exchange.getProperty(ExchangeKeys.ERROR_CODE, "error", String.class);
        exchange.setProperty(ExchangeKeys.BUS_REPLY, message.canReply() ? reply
                : reply.deadLettered("no_reply_destination".equals(code) ? code : code + " (no reply destination)"));
    }

    /** The answer the spine wrote (body, status and Caravan's headers) as the message's reply. */
    public void answered(Exchange exchange) {
        BusReply whole = reply(exchange, 200);
        java.util.List<byte[]> chunks = BusStream.chunksOf(exchange);
        exchange.setProperty(ExchangeKeys.BUS_REPLY, chunks == null ? whole
                : new BusReply(whole.status(), whole.body(), whole.properties(), null, chunks));
    }

    /**
     * After the error renderer wrote the error (in the caller's dialect): a transient one (429, 5xx) is tried again
     * while {@code bus.redeliveries} allow, else it is the reply, and a transient failure that used up its tries is
     * also dead-lettered. (A message with no reply destination never gets here: the door refused it.)
     */
    public void failed(Exchange exchange) {
        int status = exchange.getProperty(ExchangeKeys.STATUS, 500, Integer.class);
        int attempt = exchange.getProperty(ATTEMPT, 1, Integer.class);
        String code = exchange.getProperty(ExchangeKeys.ERROR_CODE, "error", String.class);
        if (isTransient(status, code) && attempt <= config.get().redeliveries()) {
            exchange.setProperty(RETRY, true);
            BusMessage message = exchange.getProperty(ExchangeKeys.BUS_MESSAGE, BusMessage.class);
            counter("caravan_bus_retries_total", message.bus()).increment();
            return;
        }
        BusReply reply = reply(exchange, status);
        exchange.setProperty(ExchangeKeys.BUS_REPLY, isTransient(status, code)
                ? reply.deadLettered(code + " after " + attempt + " attempts") : reply);
    }

    /**
     * Failures that a try again would not change, or would pay for again: a budget spent for its window, a provider's
     * quota, and an upstream answer that came (and was billed) but could not be used.
     */
    private static final Set<String> FINAL = Set.of("budget_exceeded", "insufficient_quota",
            "upstream_response_too_large", "upstream_bad_response", "stream_too_long");

    /**
     * A failure that may pass on another try (rate limited, the upstream or the gateway failing), not the request's
     * nor one of {@link #FINAL}.
     */
    static boolean isTransient(int status, String code) {
        return (status == 429 || status >= 500) && (code == null || !FINAL.contains(code));
    }

    /**
     * The door's catch, first: a consumer interrupted while it waited (for room, or for another delivery's reply) is
     * a gateway stopping, not the message's failure. It is given back unanswered: its claim forgotten, the route
     * failed, so the broker redelivers it (JMS rolls back, AMQP requeues, Kafka reads it again).
     */
    public void rethrowInterrupt(Exchange exchange) throws Exception {
        Exception caught = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        if (caught instanceof InterruptedException || caught != null && caught.getCause() instanceof InterruptedException) {
            String claimed = exchange.getProperty(CLAIMED, String.class);
            if (claimed != null) {
                memory.forget(claimed);
            }
            Thread.currentThread().interrupt();
            throw caught;
        }
    }

    /**
     * Last step before the adapter sends: the reply is remembered for redeliveries (an answer, or a refusal that
     * would be the same again), or the claim given up after a transient failure, so a later delivery tries anew.
     */
    public void finish(Exchange exchange) {
        BusReply reply = exchange.getProperty(ExchangeKeys.BUS_REPLY, BusReply.class);
        String claimed = exchange.getProperty(CLAIMED, String.class);
        BusMessage message = exchange.getProperty(ExchangeKeys.BUS_MESSAGE, BusMessage.class);
        if (claimed != null) {
            String code = exchange.getProperty(ExchangeKeys.ERROR_CODE, String.class);
            if (isTransient(reply.status(), code)) {
                memory.forget(claimed);
            } else {
                memory.remember(claimed, reply);
            }
        }
        if (reply.deadLetter() != null) {
            counter("caravan_bus_dead_letters_total", message.bus()).increment();
        }
        counter("caravan_bus_replies_total", message.bus()).increment();
    }

    /** The original request body, for a dead letter (the body as it was sent, not as the door rewrote it). */
    public static byte[] originalBody(Exchange exchange) {
        return exchange.getProperty(ORIGINAL_BODY, byte[].class);
    }

    private static BusReply reply(Exchange exchange, int fallbackStatus) {
        Message out = exchange.getMessage();
        Integer status = out.getHeader(Exchange.HTTP_RESPONSE_CODE, Integer.class);
        int code = status == null ? fallbackStatus : status;
        Object body = out.getBody();
        byte[] bytes = body instanceof byte[] b ? b : body == null ? new byte[0]
                : body.toString().getBytes(StandardCharsets.UTF_8);
        Map<String, String> properties = new HashMap<>();
        properties.put(BusReply.STATUS, Integer.toString(code));
        properties.put(BusReply.REQUEST_ID, exchange.getProperty(ExchangeKeys.REQUEST_ID, String.class));
        String cost = out.getHeader(dev.caravan.transport.http.Responder.COST_HEADER, String.class);
        properties.put(BusReply.COST, cost == null ? "0" : cost);
        String cache = out.getHeader("x-caravan-cache", String.class);
        if (cache != null) {
            properties.put(BusReply.CACHE, cache);
        }
        for (String passed : new String[]{"x-caravan-deployment", "x-caravan-region", "x-caravan-attempts", "x-caravan-fallback"}) {
            String v = out.getHeader(passed, String.class);
            if (v != null) {
                properties.put("caravan-" + passed.substring("x-caravan-".length()), v);
            }
        }
        return new BusReply(code, bytes, properties, null);
    }

    private Counter counter(String name, String bus) {
        return Counter.builder(name).tag("ingress", bus).register(registry);
    }

}
