package dev.caravan.policy.guardrail;

import static dev.caravan.policy.guardrail.StreamFixture.ALL_PII;
import static org.assertj.core.api.Assertions.assertThat;

import dev.caravan.core.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class PlaceholdersTest {

    private static String deidentify(Placeholders p, String text) {
        return p.deidentify(text, ALL_PII.scan(text));
    }

    @Test
    void eachOriginalGetsAPlaceholderNumberedPerEntityAndStableWithinTheRequest() {
        Placeholders p = new Placeholders();
        String sent = deidentify(p, "Mail jane@x.com or bob@y.org, call +44 20 7946 0958, again jane@x.com");
        assertThat(sent).isEqualTo("Mail <EMAIL_1> or <EMAIL_2>, call <PHONE_1>, again <EMAIL_1>");
        assertThat(deidentify(p, "and jane@x.com once more")).isEqualTo("and <EMAIL_1> once more");
        assertThat(p.size()).isEqualTo(3);
        assertThat(p.isEmpty()).isFalse();
    }

    @Test
    void theAnswerGetsTheOriginalsBackAndLookAlikesStayAsTheyAre() {
        Placeholders p = new Placeholders();
        deidentify(p, "card 4111 1111 1111 1111 and jane@x.com");
        assertThat(p.restore("Charged <CARD_1>, receipt to <EMAIL_1>; <EMAIL_9> and <b>bold</b> untouched."))
                .isEqualTo("Charged 4111 1111 1111 1111, receipt to jane@x.com; <EMAIL_9> and <b>bold</b> untouched.");
    }

    @Test
    void aDenyHitIsRedactedNotDeidentified() {
        Placeholders p = new Placeholders();
        String text = "codename falcon, mail jane@x.com";
        List<Hit> hits = new ArrayList<>(ALL_PII.scan(text));
        hits.add(new Hit(9, 15, "deny", "pattern-1"));
        assertThat(p.deidentify(text, hits)).isEqualTo("codename [REDACTED], mail <EMAIL_1>");
        assertThat(p.size()).isEqualTo(1);
    }

    @Test
    void placeholderTextAlreadyInTheRequestIsNeverReused() {
        Placeholders p = new Placeholders();
        p.reserve("Earlier message: fill in <PHONE_1> please");
        String sent = deidentify(p, "The template says <EMAIL_1>; mine is jane@x.com, phone +44 20 7946 0958");
        assertThat(sent).isEqualTo("The template says <EMAIL_1>; mine is <EMAIL_2>, phone <PHONE_2>");
        assertThat(p.restore("I'll use <EMAIL_2> not <EMAIL_1>, and <PHONE_2> not <PHONE_1>"))
                .isEqualTo("I'll use jane@x.com not <EMAIL_1>, and +44 20 7946 0958 not <PHONE_1>");
    }

    @Test
    void inJsonStringContentTheOriginalIsRestoredEscaped() {
        Placeholders p = new Placeholders();
        String text = "name \"Jane \\ Doe\" here";
        p.deidentify(text, List.of(new Hit(5, 17, "pii", "person")));
        String arguments = "{\"to\":\"<PERSON_1>\"}";
        String restored = p.restoreInJson(arguments);
        assertThat(restored).isEqualTo("{\"to\":\"\\\"Jane \\\\ Doe\\\"\"}");
        assertThat(Json.parseObjectOrNull(restored).get("to").asText()).isEqualTo("\"Jane \\ Doe\"");
    }

    @Test
    void aStreamHoldsOnlyATrailingPrefixOfAPlaceholder() {
        Placeholders p = new Placeholders();
        deidentify(p, "jane@x.com");
        assertThat(p.holdFrom("Write to <EM")).isEqualTo(9);
        assertThat(p.holdFrom("Write to <EMAIL_")).isEqualTo(9);
        assertThat(p.holdFrom("Write to <")).isEqualTo(9);
        assertThat(p.holdFrom("Write to <EMAIL_1>")).isEqualTo(18);
        assertThat(p.holdFrom("if a <b")).isEqualTo(7);
        assertThat(p.holdFrom("a <EMAIL_1234567")).isEqualTo(16); // longer than any placeholder given
        assertThat(new Placeholders().holdFrom("nothing de-identified <EM")).isEqualTo(25);
    }

    @Test
    void pastTheBoundHitsAreRedactedInstead() {
        Placeholders p = new Placeholders();
        StringBuilder text = new StringBuilder();
        List<Hit> hits = new ArrayList<>();
        for (int i = 0; i < Placeholders.MAX_ENTRIES + 2; i++) {
            int start = text.length();
            text.append("u").append(i).append("@x.com ");
            hits.add(new Hit(start, text.length() - 1, "pii", "email"));
        }
        String sent = p.deidentify(text.toString(), hits);
        assertThat(p.size()).isEqualTo(Placeholders.MAX_ENTRIES);
        assertThat(sent).contains("<EMAIL_1000>").doesNotContain("<EMAIL_1001>").endsWith("[EMAIL] [EMAIL] ");
    }

    @Test
    void writtenOnTheRequestsThreadReadOnTheStreamsLoop() throws Exception {
        Placeholders p = new Placeholders();
        CompletableFuture.runAsync(() -> deidentify(p, "jane@x.com")).get();
        assertThat(CompletableFuture.supplyAsync(() -> p.restore("to <EMAIL_1>")).get()).isEqualTo("to jane@x.com");
    }
}
