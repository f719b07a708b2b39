package dev.caravan.responses;

import dev.caravan.config.ConfigLoader;
import dev.caravan.dialect.openai.MemoryResponseStore;
import dev.caravan.dialect.openai.ResponseStore;
import dev.caravan.policy.ledger.LedgerDatabase;
import io.micrometer.core.instrument.MeterRegistry;

import java.time.Duration;
import java.util.function.Function;

/** Where {@code /v1/responses} answers are kept: the gateway's database when it has one, else this process. */
public final class ResponseStores {

    private ResponseStores() {
    }

    /**
     * {@code caravan.responses.maxStored} bounds the memory store, or the responses waiting to be written to the
     * database; {@code caravan.responses.ttl} is how long each is kept (1h in memory, 30d in the database, unless set).
     *
     * @param database the gateway's database, or null when it has none (the ledger off)
     */
    public static ResponseStore open(LedgerDatabase database, Function<String, String> properties, MeterRegistry registry) {
        String max = properties.apply("caravan.responses.maxStored");
        int maxStored;
        try {
            maxStored = max == null || max.isBlank() ? ResponseStore.DEFAULT_MAX_ENTRIES : Integer.parseInt(max.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("caravan.responses.maxStored is not a number: " + max);
        }
        String ttlText = properties.apply("caravan.responses.ttl");
        Duration ttl = ttlText == null || ttlText.isBlank() ? null : ConfigLoader.parseDuration(ttlText);
        if (maxStored < 1 || (ttl != null && (ttl.isNegative() || ttl.isZero()))) {
            throw new IllegalArgumentException("caravan.responses.maxStored and caravan.responses.ttl must be positive");
        }
        if (database == null) {
            return new MemoryResponseStore(maxStored, ttl == null ? ResponseStore.DEFAULT_TTL : ttl);
        }
        // a quiet start: the ledger's line already says where the database is
        return new SqlResponseStore(database.dataSource(), database.postgres(),
                SqlResponseStore.Settings.of(maxStored, ttl == null ? SqlResponseStore.Settings.DEFAULT_TTL : ttl), registry);
    }
}
