package dev.caravan.core;

import org.apache.camel.Exchange;

/**
 * The client's wire format, decided here and nowhere else: OpenAI's (the default) or Anthropic's Messages API
 * ({@code /v1/messages} and below, or an Anthropic SDK's {@code anthropic-version} header on the shared endpoints such
 * as {@code /v1/models}). Answers and errors go back in it. A transport other than HTTP (a bus) sets it from its own
 * message.
 */
public enum Dialect {
    OPENAI,
    ANTHROPIC_MESSAGES;

    /** The dialect a request speaks by its path alone (what the listener knows before any route runs). */
    public static Dialect forPath(String pathOrUri) {
        return pathOrUri != null && pathOrUri.startsWith("/v1/messages") ? ANTHROPIC_MESSAGES : OPENAI;
    }

    /** The dialect of a request to an endpoint both dialects share: the Anthropic SDKs send {@code anthropic-version}. */
    public static Dialect forSharedEndpoint(ClientRequest request) {
        return request.header("anthropic-version") != null ? ANTHROPIC_MESSAGES : OPENAI;
    }

    /** The dialect the door recorded for this request ({@code caravan.dialect}); OpenAI's when none was. */
    public static Dialect of(Exchange exchange) {
        Dialect d = exchange.getProperty(ExchangeKeys.DIALECT, Dialect.class);
        return d == null ? OPENAI : d;
    }

    public static boolean speaksAnthropic(Exchange exchange) {
        return of(exchange) == ANTHROPIC_MESSAGES;
    }
}
