package dev.caravan.core;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A request that may (or, with {@code refusal}, must) be sent to an upstream as the client wrote it, at the
 * upstream's own endpoint, because the canonical chat request does not model what it asks: a Responses request with
 * a hosted tool (web search, file search...), a legacy text completion. Set by the door on
 * {@link ExchangeKeys#PASS_THROUGH}; the route step keeps only the deployments that serve the endpoint when it must,
 * and the call step sends {@code body} (the model swapped for the deployment's) to each deployment that serves it,
 * the canonical request to the others. The answer's canonical view is what the policies and the meters read; the
 * client gets the upstream's own body or events.
 *
 * @param endpoint  the upstream's path after its base URL: {@link #RESPONSES} or {@link #COMPLETIONS}
 * @param body      the client's body, Caravan's own {@code caravan} object taken out
 * @param canonical the canonical request the door made of it (routing, limits, budgets, guardrails and estimates
 *                  read it); a before-hook that replaces it has changed what {@code body} would send
 * @param refusal   why only a deployment serving {@code endpoint} can answer, as the client's 400 when none of the
 *                  model's can; null when the others serve the canonical request instead
 */
public record PassThrough(String endpoint, ObjectNode body, ObjectNode canonical, GatewayException refusal) {

    public static final String RESPONSES = "responses";
    public static final String COMPLETIONS = "completions";

    /**
     * On a canonical chunk of a stream passed through: the upstream event it was read from, an object of
     * {@code event} (its SSE {@code event:} field, or null), {@code data} (its data, as the upstream wrote it) and
     * {@code json} (that data parsed). A chunk a policy made has none.
     */
    public static final String EVENT = "caravan_upstream_event";

    /** Only a deployment that serves {@link #endpoint} can answer. */
    public boolean required() {
        return refusal != null;
    }
}
