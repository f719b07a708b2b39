package dev.caravan.observe;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.auth.Principal;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ModelConfig;
import dev.caravan.core.ClientRequest;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.usage.Usage;
import org.apache.camel.Exchange;

/**
 * What post-processing knows about one finished request, read once from the exchange. Label values are bounded:
 * a model name that is not configured becomes {@code unknown}, never the caller's string.
 *
 * @param costNanos what it cost in nano-dollars (1e-9 USD), as the record route's cost step measured it
 * @param region    the region of the deployment that answered (or was tried last), or null when it names none
 * @param endpoint  what the path asks for, a bounded label: {@link #endpointOf}
 * @param requestedModel the model the client named, as it named it (cut and cleaned for the log), or null
 * @param fallback  the fallback model that answered, or null when the requested one did (or none answered)
 * @param attempts  deployments tried, or -1 when no model was called
 * @param client    the client's address (the peer, or from X-Forwarded-For behind a trusted proxy), or null
 * @param userAgent the client's User-Agent, cut and cleaned for the log, or null
 * @param ingress   how the request came in: {@code http}, or the bus ({@code jms}, {@code amqp}, {@code kafka})
 */
public record RequestFacts(String requestId, String operation, String method, String path, String keyId, String team, String model,
                           String deployment, int status, String errorCode, boolean stream, String outcome,
                           long durationNanos, long upstreamNanos, long ttftNanos, Usage usage, long costNanos,
                           String cache, String region, String endpoint, String requestedModel, String fallback,
                           int attempts, String client, String userAgent, String ingress) {

    /** Longest User-Agent kept in the access log; SDKs send under 100 characters. */
    static final int MAX_USER_AGENT = 256;
    /** Longest requested model name kept in the access log (configured names are far shorter). */
    static final int MAX_REQUESTED_MODEL = 128;

    /** Read once per request: metrics and the access log see the same facts (and the same duration). */
    public static RequestFacts of(Exchange exchange) {
        RequestFacts known = exchange.getProperty(ExchangeKeys.FACTS, RequestFacts.class);
        if (known == null) {
            known = read(exchange);
            exchange.setProperty(ExchangeKeys.FACTS, known);
        }
        return known;
    }

    private static RequestFacts read(Exchange exchange) {
        ClientRequest request = exchange.getProperty(ExchangeKeys.CLIENT_REQUEST, ClientRequest.class);
        Principal principal = exchange.getProperty(ExchangeKeys.PRINCIPAL, Principal.class);
        ModelConfig model = exchange.getProperty(ExchangeKeys.MODEL, ModelConfig.class);
        DeploymentConfig deployment = exchange.getProperty(ExchangeKeys.DEPLOYMENT, DeploymentConfig.class);
        String modelLabel = model != null ? model.name()
                : exchange.getProperty(ExchangeKeys.REQUEST, ObjectNode.class) != null ? "unknown" : "none";
        Long start = exchange.getProperty(ExchangeKeys.START_NANOS, Long.class);
        Usage usage = exchange.getProperty(ExchangeKeys.USAGE, Usage.NONE, Usage.class);
        ObjectNode body = exchange.getProperty(ExchangeKeys.REQUEST, ObjectNode.class);
        String asked = body == null || !body.path("model").isTextual() ? null : body.path("model").asText();
        return new RequestFacts(
                exchange.getProperty(ExchangeKeys.REQUEST_ID, String.class),
                exchange.getProperty(ExchangeKeys.OPERATION, String.class),
                request == null ? "" : request.method(),
                request == null ? "" : request.path(),
                principal == null ? "anonymous" : principal.keyId(),
                principal == null || principal.team() == null ? "none" : principal.team(),
                modelLabel,
                deployment == null ? "none" : deployment.id(),
                exchange.getProperty(ExchangeKeys.STATUS, 0, Integer.class),
                exchange.getProperty(ExchangeKeys.ERROR_CODE, String.class),
                exchange.getProperty(ExchangeKeys.STREAMING, false, Boolean.class),
                exchange.getProperty(ExchangeKeys.OUTCOME, String.class),
                start == null ? 0 : System.nanoTime() - start,
                exchange.getProperty(ExchangeKeys.UPSTREAM_NANOS, 0L, Long.class),
                exchange.getProperty(ExchangeKeys.TTFT_NANOS, -1L, Long.class),
                usage,
                exchange.getProperty(ExchangeKeys.COST_NANOS, 0L, Long.class),
                cacheResult(exchange),
                deployment == null ? null : deployment.region(),
                endpointOf(request == null ? "" : request.path()),
                asked == null ? null : printable(asked, MAX_REQUESTED_MODEL),
                exchange.getProperty(ExchangeKeys.FALLBACK, String.class),
                exchange.getProperty(ExchangeKeys.ATTEMPT_COUNT, -1, Integer.class),
                exchange.getProperty(ExchangeKeys.CLIENT_ADDRESS, String.class),
                request == null || request.header("user-agent") == null ? null
                        : printable(request.header("user-agent"), MAX_USER_AGENT),
                ExchangeKeys.ingressOf(exchange));
    }

    /**
     * The endpoint label of a path: {@code chat}, {@code messages}, {@code embeddings}, {@code responses},
     * {@code completions}, {@code count_tokens},
     * {@code models}, {@code admin}, {@code health}, {@code metrics}, or {@code other}; never the caller's string.
     */
    public static String endpointOf(String path) {
        if (path == null) {
            return "other";
        }
        return switch (path) {
            case "/v1/chat/completions" -> "chat";
            case "/v1/messages" -> "messages";
            case "/v1/embeddings" -> "embeddings";
            case "/v1/responses" -> "responses";
            case "/v1/completions" -> "completions";
            case "/v1/messages/count_tokens" -> "count_tokens";
            case "/v1/models" -> "models";
            case "/metrics" -> "metrics";
            default -> path.startsWith("/v1/models/") ? "models" : path.startsWith("/v1/responses/") ? "responses"
                    : path.startsWith("/admin/") ? "admin"
                    : path.startsWith("/health/") ? "health" : "other";
        };
    }

    /** At most {@code max} characters of {@code text}, control characters left out: one log line stays one line. */
    public static String printable(String text, int max) {
        StringBuilder out = new StringBuilder(Math.min(text.length(), max));
        for (int i = 0; i < text.length() && out.length() < max; i++) {
            char c = text.charAt(i);
            if (!Character.isISOControl(c) && Character.getType(c) != Character.FORMAT) {
                out.append(c);
            }
        }
        if (!out.isEmpty() && Character.isHighSurrogate(out.charAt(out.length() - 1))) {
            out.setLength(out.length() - 1); // cut between the halves of a pair
        }
        return out.toString();
    }

    /** The model that answered: the fallback when one did, else the requested one (its label). */
    public String answeringModel() {
        return fallback != null ? fallback : model;
    }

    /** What the cache did ({@code hit}, {@code semantic}, {@code miss}, {@code bypass}), or null when it was off. */
    private static String cacheResult(Exchange exchange) {
        @SuppressWarnings("unchecked")
        java.util.Map<String, String> headers = exchange.getProperty(ExchangeKeys.RESPONSE_HEADERS, java.util.Map.class);
        String value = headers == null ? null : headers.get("x-caravan-cache");
        return value == null ? null : value.toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * Requests to the API, as opposed to health checks and scrapes: the door (HTTP or any other transport) named an
     * operation.
     */
    public boolean isApiCall() {
        return operation != null;
    }

    /**
     * Which control refused the request: {@code limit} (a rate limit), {@code budget}, {@code guardrail}, or null
     * when none did.
     */
    public String refusedBy() {
        if (errorCode == null) {
            return null;
        }
        return switch (errorCode) {
            case "rate_limit_exceeded" -> "limit";
            case "budget_exceeded" -> "budget";
            case "guardrail_blocked" -> "guardrail";
            default -> null;
        };
    }
}
