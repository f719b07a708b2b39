package dev.caravan.core;

/** The exchange properties the steps talk through (docs/architecture.md: one prefix, {@code caravan.}). */
public final class ExchangeKeys {
    public static final String REQUEST_ID = "caravan.requestId";
    public static final String START_NANOS = "caravan.startNanos";
    public static final String CLIENT_REQUEST = "caravan.clientRequest";
    public static final String PRINCIPAL = "caravan.principal";
    /** The client's address (the peer of its connection), as text. */
    public static final String CLIENT_ADDRESS = "caravan.clientAddress";
    public static final String REQUEST = "caravan.request";
    /**
     * What is asked, set by the door for every API call (absent: not an API call, e.g. a health check or a scrape):
     * {@link #CHAT} (chat completions and Anthropic messages), {@link #EMBEDDINGS}, {@link #COUNT_TOKENS}, {@link #MODELS}.
     */
    public static final String OPERATION = "caravan.operation";
    /** Set by the management listener ({@link #MANAGEMENT}): what it serves needs no key. */
    public static final String LISTENER = "caravan.listener";
    public static final String MANAGEMENT = "management";
    public static final String CHAT = "chat";
    /** The models list and a model's card. */
    public static final String MODELS = "models";
    /** A path under the API that names no endpoint (answered 404, still an API call for the log and metrics). */
    public static final String UNKNOWN_API = "unknown";
    public static final String EMBEDDINGS = "embeddings";
    /** {@code /v1/messages/count_tokens}: the input tokens of a chat request, answered without a completion. */
    public static final String COUNT_TOKENS = "count_tokens";
    /** The client's wire format, a {@link Dialect}: set by the door (absent means OpenAI's). */
    public static final String DIALECT = "caravan.dialect";
    public static final String CONTROLS = "caravan.controls";
    /** Set on a {@code /v1/completions} request: the prompt to echo before the answer, or "" for none. */
    public static final String TEXT_COMPLETION = "caravan.textCompletion";
    /** Set on a {@code /v1/responses} request: what its answer repeats and keeps (a {@code ResponsesRequest.Context}). */
    public static final String RESPONSES = "caravan.responses";
    /**
     * Set by a door whose request may be sent upstream as the client wrote it (a {@link PassThrough}): a Responses
     * request with hosted tools, a text completion. Removed by the route step when no deployment could take it.
     */
    public static final String PASS_THROUGH = "caravan.passThrough";
    public static final String STREAMING = "caravan.streaming";
    public static final String MODEL = "caravan.model";
    public static final String DEPLOYMENTS = "caravan.deployments";
    public static final String DEPLOYMENT = "caravan.deployment";
    /** The id of the deployment picked for the attempt in progress; absent when no attempt is pending. */
    public static final String DEPLOYMENT_ID = "caravan.deploymentId";
    public static final String ATTEMPTS = "caravan.attempts";
    public static final String ATTEMPT_TIMEOUT = "caravan.attemptTimeout";
    public static final String ATTEMPT_COUNT = "caravan.attemptCount";
    public static final String FALLBACK = "caravan.fallback";
    public static final String RESULT = "caravan.result";
    public static final String RELAY = "caravan.relay";
    public static final String USAGE = "caravan.usage";
    public static final String STATUS = "caravan.status";
    public static final String ERROR_CODE = "caravan.errorCode";
    public static final String UPSTREAM_NANOS = "caravan.upstreamNanos";
    public static final String TTFT_NANOS = "caravan.ttftNanos";
    public static final String OUTCOME = "caravan.outcome";
    /** The request as the policies see it (the policy chain's PolicyCall); absent when no policy is configured. */
    public static final String POLICY_CALL = "caravan.policyCall";
    /** The request's cost in nano-dollars (1e-9 USD), a Long: set by post-processing from the usage and the price. */
    public static final String COST_NANOS = "caravan.costNanos";
    /** Response headers the policies add (a Map of name to value: x-ratelimit-*), on answers and errors alike. */
    public static final String RESPONSE_HEADERS = "caravan.responseHeaders";
    /** Post-processing's reading of the request, made once; dropped when an error changes the answer. */
    public static final String FACTS = "caravan.facts";
    /**
     * How the request came in, a bounded label for metrics, the access log and the ledger: {@code http} (absent
     * means HTTP), {@code jms}, {@code amqp} or {@code kafka}.
     */
    public static final String INGRESS = "caravan.ingress";
    public static final String HTTP = "http";

    /** {@link #INGRESS}'s value: {@code http} unless a bus's door named its bus. */
    public static String ingressOf(org.apache.camel.Exchange exchange) {
        String ingress = exchange.getProperty(INGRESS, String.class);
        return ingress == null ? HTTP : ingress;
    }
    /** A bus request message as its bus adapter read it (a {@code transport.bus.BusMessage}). */
    public static final String BUS_MESSAGE = "caravan.busMessage";
    /** The reply a bus message gets (a {@code transport.bus.BusReply}): the answer, an error, or a remembered one. */
    public static final String BUS_REPLY = "caravan.busReply";

    private ExchangeKeys() {
    }
}
