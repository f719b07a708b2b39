package dev.caravan.cost;

import dev.caravan.TestGateway;
import dev.caravan.auth.KeyAuthenticator;

import java.net.http.HttpResponse;
import java.util.HexFormat;

/** Shared by the cost-control tests: key hashes, a plain chat call, and a start well inside a minute. */
final class CostFixtures {

    private CostFixtures() {
    }

    static String sha(String key) {
        return HexFormat.of().formatHex(KeyAuthenticator.sha256(key));
    }

    static HttpResponse<String> chat(TestGateway gateway, String key, String model) {
        return gateway.post("/v1/chat/completions",
                "{\"model\":\"" + model + "\",\"max_completion_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}",
                "Authorization", "Bearer " + key, "Content-Type", "application/json");
    }

    /** Rate windows are whole minutes: a test that counts to a limit starts with at least 15 s of its minute left. */
    static void awaitFreshMinute() throws InterruptedException {
        long intoMinute = System.currentTimeMillis() % 60_000;
        if (intoMinute > 45_000) {
            Thread.sleep(60_000 - intoMinute + 50);
        }
    }
}
