package dev.caravan.config;

import java.net.URI;
import java.time.Duration;

/**
 * One upstream provider.
 *
 * @param name     its key under {@code providers:}
 * @param type     adapter family ({@code openai}, {@code azure}, {@code anthropic}, {@code gemini}, {@code mistral},
 *                 {@code openai-compatible}, {@code mock})
 * @param baseUrl  what the provider's official SDK calls its base URL; null for mock
 * @param apiKey   the resolved credential, or null; never logged, never sent to clients
 * @param apiVersion Azure OpenAI's {@code api-version} or Anthropic's {@code anthropic-version}; null for other types
 * @param caFile   PEM file of the CA certificates to trust for this provider's TLS instead of the JVM's, or null
 * @param mock     mock behaviour, used by {@code type: mock} only
 * @param completions the server has OpenAI's legacy {@code /completions} ({@code completions: true}; openai, azure
 *                 and openai-compatible only, default false): text completions pass through to it instead of being
 *                 translated to chat
 */
public record ProviderConfig(String name, String type, URI baseUrl, String apiKey, String apiVersion, String caFile,
                             MockSettings mock, boolean completions) {

    public ProviderConfig(String name, String type, URI baseUrl, String apiKey, String apiVersion, String caFile,
                          MockSettings mock) {
        this(name, type, baseUrl, apiKey, apiVersion, caFile, mock, false);
    }

    /** The types whose servers may have {@code /completions} (the flag is refused on the others). */
    public static boolean mayHaveCompletions(String type) {
        return type.equals("openai") || type.equals("azure") || type.equals("openai-compatible");
    }

    /**
     * Whether this provider's servers answer OpenAI's {@code endpoint} themselves, so that a request the canonical
     * chat request does not model can be passed through ({@link dev.caravan.core.PassThrough}): {@code responses}
     * (OpenAI only: its Responses API runs the hosted tools), {@code completions} (where the flag says so).
     */
    public boolean servesOwn(String endpoint) {
        return switch (endpoint) {
            case "responses" -> type.equals("openai");
            case "completions" -> completions;
            default -> false;
        };
    }

    public static final String DEFAULT_AZURE_API_VERSION = "2024-10-21";
    public static final String DEFAULT_ANTHROPIC_VERSION = "2023-06-01";

    /** The public endpoint of a provider family, when it has one; azure and openai-compatible must say theirs. */
    public static URI defaultBaseUrl(String type) {
        return switch (type) {
            case "openai" -> URI.create("https://api.openai.com/v1");
            case "anthropic" -> URI.create("https://api.anthropic.com");
            case "gemini" -> URI.create("https://generativelanguage.googleapis.com");
            case "mistral" -> URI.create("https://api.mistral.ai/v1");
            default -> null;
        };
    }

    public static String defaultApiVersion(String type) {
        return switch (type) {
            case "azure" -> DEFAULT_AZURE_API_VERSION;
            case "anthropic" -> DEFAULT_ANTHROPIC_VERSION;
            default -> null;
        };
    }

    /** Deterministic behaviour of the built-in mock provider. */
    public record MockSettings(Duration latency, Duration chunkInterval, double failureRate, int failureStatus) {
        public static final MockSettings DEFAULT = new MockSettings(Duration.ZERO, Duration.ZERO, 0, 503);
    }

    @Override
    public String toString() {
        // records print every field: keep the credential out of any log line that prints a config object
        return "ProviderConfig[name=" + name + ", type=" + type + ", baseUrl=" + baseUrl + "]";
    }
}
