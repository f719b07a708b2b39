package dev.caravan.policy.guardrail;

import static dev.caravan.policy.guardrail.StreamFixture.ALL_PII;
import static dev.caravan.policy.guardrail.StreamFixture.content;
import static dev.caravan.policy.guardrail.StreamFixture.finish;
import static dev.caravan.policy.guardrail.StreamFixture.first;
import static dev.caravan.policy.guardrail.StreamFixture.run;
import static dev.caravan.policy.guardrail.StreamFixture.toolArguments;
import static dev.caravan.policy.guardrail.StreamFixture.toolStart;
import static dev.caravan.policy.guardrail.StreamFixture.usage;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.policy.guardrail.StreamFixture.Recorder;
import dev.caravan.stream.StreamHook;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class GuardedStreamTest {

    private static final Function<Hit, GatewayException> BLOCKED = hit -> GatewayException.badRequest(
            "guardrail_blocked", null, "The answer contained " + hit.entity() + ".");

    private static GuardedStream checking(Action action, List<Hit> hits) {
        return GuardedStream.checking(ALL_PII, action, hits::add, BLOCKED);
    }

    private static Placeholders placeholdersFor(String request) {
        Placeholders p = new Placeholders();
        p.deidentify(request, ALL_PII.scan(request));
        return p;
    }

    // ---- restoring ----

    @Test
    void anEmailPhoneAndCardAreRestoredWhenTheirPlaceholdersAreSplitAcrossTwoAndThreeChunks() {
        Placeholders p = placeholdersFor("Mail jane.doe@example.com, ring +44 20 7946 0958, card 4111 1111 1111 1111.");
        assertThat(p.restore("<EMAIL_1> <PHONE_1> <CARD_1>")).isEqualTo("jane.doe@example.com +44 20 7946 0958 4111 1111 1111 1111");

        Recorder out = run(GuardedStream.restoring(p),
                first("I'll mail <EM"), content(0, "AIL_1> and ring <PH"), content(0, "ONE_"), content(0, "1>, then charge <"),
                content(0, "CARD"), content(0, "_1>."), finish(0, "stop"));

        assertThat(out.content(0)).isEqualTo(
                "I'll mail jane.doe@example.com and ring +44 20 7946 0958, then charge 4111 1111 1111 1111.");
        assertThat(out.pieces(0)).noneMatch(piece -> piece.contains("<") || piece.contains("AIL_") || piece.contains("ONE_")
                || piece.contains("CARD"));
        assertThat(out.finishes()).containsExactly("0:stop");
    }

    @Test
    void toolCallArgumentsAreRestoredJsonEscapedPerToolCall() {
        Placeholders p = placeholdersFor("Mail jane.doe@example.com and ring +44 20 7946 0958");
        Recorder out = run(GuardedStream.restoring(p),
                toolStart(0, 0, "call_1", "send_mail"), toolStart(0, 1, "call_2", "call"),
                toolArguments(0, 0, "{\"to\":\"<EMA"), toolArguments(0, 1, "{\"number\":\"<PHONE"),
                toolArguments(0, 0, "IL_1>\"}"), toolArguments(0, 1, "_1>\"}"), finish(0, "tool_calls"));

        assertThat(Json.parseObjectOrNull(out.arguments(0, 0)).get("to").asText()).isEqualTo("jane.doe@example.com");
        assertThat(Json.parseObjectOrNull(out.arguments(0, 1)).get("number").asText()).isEqualTo("+44 20 7946 0958");
        assertThat(out.chunks.get(0).at("/choices/0/delta/tool_calls/0/function/name").asText()).isEqualTo("send_mail");
        assertThat(out.finishes()).containsExactly("0:tool_calls");
    }

    @Test
    void aPlaceholderStillHeldWhenTheStreamEndsIsSentInALastChunk() {
        Placeholders p = placeholdersFor("jane@x.com");
        Recorder out = run(GuardedStream.restoring(p), first("Yours: <EMAIL_1"));
        assertThat(out.content(0)).isEqualTo("Yours: <EMAIL_1");
        ObjectNode last = out.chunks.get(out.chunks.size() - 1);
        assertThat(last.get("id").asText()).isEqualTo("chatcmpl-7");
        assertThat(last.get("model").asText()).isEqualTo("gpt-test");
        assertThat(last.get("created").asLong()).isEqualTo(1700000000L);
    }

    @Test
    void aWholeAnswerIsRestoredInContentAndToolArguments() {
        Placeholders p = placeholdersFor("jane@x.com");
        ObjectNode answer = Json.parseObjectOrNull("""
                {"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"To <EMAIL_1>.",
                 "tool_calls":[{"id":"c","type":"function","function":{"name":"m","arguments":"{\\"to\\":\\"<EMAIL_1>\\"}"}}]}}]}""");
        GuardedStream.restore(answer, p);
        assertThat(answer.at("/choices/0/message/content").asText()).isEqualTo("To jane@x.com.");
        assertThat(answer.at("/choices/0/message/tool_calls/0/function/arguments").asText()).isEqualTo("{\"to\":\"jane@x.com\"}");
    }

    // ---- checking ----

    @Test
    void aCardSplitAcrossThreeChunksIsRedactedAndNoDigitOfItIsEverEmitted() {
        List<Hit> hits = new ArrayList<>();
        Recorder out = run(checking(Action.REDACT, hits),
                first("Your card 4111 11"), content(0, "11 1111 1"), content(0, "111"), content(0, " is on file."),
                finish(0, "stop"));

        assertThat(out.content(0)).isEqualTo("Your card [CARD] is on file.");
        assertThat(out.pieces(0)).noneMatch(piece -> piece.chars().anyMatch(Character::isDigit));
        assertThat(out.chunks.get(0).at("/choices/0/delta/role").asText()).isEqualTo("assistant");
        assertThat(hits).containsExactly(new Hit(10, 29, "pii", "card"));
    }

    @Test
    void aCardEndingTheAnswerIsFlushedRedactedIntoTheFinishChunk() {
        Recorder out = run(checking(Action.REDACT, new ArrayList<>()),
                first("Card: 4111 1111 "), content(0, "1111 1111"), finish(0, "stop"), usage());
        assertThat(out.content(0)).isEqualTo("Card: [CARD]");
        ObjectNode finishChunk = out.chunks.get(out.chunks.size() - 2);
        assertThat(finishChunk.at("/choices/0/delta/content").asText()).isEqualTo("[CARD]");
        assertThat(finishChunk.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
        assertThat(out.chunks.get(out.chunks.size() - 1).at("/usage/total_tokens").asInt()).isEqualTo(12);
    }

    @Test
    void twentyDigitsInFourCharGroupsAreNoCardAndPass() {
        // "4111 11" + "11 1111 1" + "111 1111" is 20 digits: longer than any card, so nothing to redact
        Recorder out = run(checking(Action.REDACT, new ArrayList<>()),
                first("Ref 4111 11"), content(0, "11 1111 1"), content(0, "111 1111"), content(0, " ok"), finish(0, "stop"));
        assertThat(out.content(0)).isEqualTo("Ref 4111 1111 1111 1111 1111 ok");
    }

    @Test
    void maskKeepsTheLastFourDigitsOfACardSplitAcrossChunks() {
        Recorder out = run(checking(Action.MASK, new ArrayList<>()),
                first("Card 4111 11"), content(0, "11 1111 1"), content(0, "111 ok"), finish(0, "stop"));
        assertThat(out.content(0)).isEqualTo("Card **** **** **** 1111 ok");
    }

    @Test
    void blockMidStreamDeliversTheTextBeforeTheHitThenAContentFilterFinishThenTheError() {
        List<Hit> hits = new ArrayList<>();
        Recorder out = run(checking(Action.BLOCK, hits),
                first("Sure, my "), content(0, "email is ja"), content(0, "ne@example.c"), content(0, "om, write"),
                content(0, " soon"), finish(0, "stop"));

        assertThat(out.content(0)).isEqualTo("Sure, my email is ");
        assertThat(out.pieces(0)).noneMatch(piece -> piece.contains("ja") || piece.contains("example"));
        assertThat(out.finishes()).containsExactly("0:content_filter");
        ObjectNode last = out.chunks.get(out.chunks.size() - 1);
        assertThat(last.at("/choices/0/finish_reason").asText()).isEqualTo("content_filter");
        assertThat(last.at("/choices/0/delta").isEmpty()).isTrue();
        assertThat(out.failure).isNotNull();
        assertThat(out.failure.code()).isEqualTo("guardrail_blocked");
        assertThat(out.failure.getMessage()).doesNotContain("jane");
        assertThat(hits).containsExactly(new Hit(18, 34, "pii", "email"));
    }

    @Test
    void blockReleasesTheTextBeforeAHitInTheSameChunk() {
        Recorder out = run(checking(Action.BLOCK, new ArrayList<>()), first("Call +44 20 7946 0958 now, please"));
        assertThat(out.content(0)).isEqualTo("Call ");
        assertThat(out.finishes()).containsExactly("0:content_filter");
        assertThat(out.failure).isNotNull();
    }

    @Test
    void alertPassesTheTextAndReportsEachHitOnce() {
        List<Hit> hits = new ArrayList<>();
        String text = "Write jane@example.com or ring +44 20 7946 0958 today.";
        Recorder out = run(checking(Action.ALERT, hits), pieces(text, 4));
        assertThat(out.content(0)).isEqualTo(text);
        assertThat(hits).containsExactly(new Hit(6, 22, "pii", "email"), new Hit(31, 47, "pii", "phone"));
        assertThat(out.failure).isNull();
    }

    @Test
    void proseWithoutEntitiesIsHeldByNoMoreThanItsPartialWord() {
        GuardedStream hook = checking(Action.REDACT, new ArrayList<>());
        Recorder out = new Recorder();
        hook.onChunk(first("Hello there, how are "), out);
        assertThat(out.content(0)).isIn("Hello there, how are", "Hello there, how are ");
        hook.onChunk(content(0, "you doi"), out);
        assertThat(out.content(0)).isEqualTo("Hello there, how are you ");
    }

    @Test
    void aChunkWhoseContentIsAllHeldIsDroppedButTheFirstChunksRoleGoesOn() {
        Recorder out = run(checking(Action.REDACT, new ArrayList<>()),
                first("jane@"), content(0, "example"), content(0, ".com"), content(0, " hi"), finish(0, "stop"));
        assertThat(out.chunks).hasSize(3); // the role, "[EMAIL] ", and "hi" with the finish
        assertThat(out.chunks.get(0).at("/choices/0/delta/role").asText()).isEqualTo("assistant");
        assertThat(out.chunks.get(0).at("/choices/0/delta").has("content")).isFalse();
        assertThat(out.pieces(0)).containsExactly("", "[EMAIL] ", "hi");
    }

    @Test
    void usageAndEmptyChoiceChunksPassAsTheyAre() {
        Recorder out = new Recorder();
        GuardedStream hook = checking(Action.REDACT, new ArrayList<>());
        ObjectNode u = usage();
        hook.onChunk(u, out);
        assertThat(out.chunks).containsExactly(usage());
    }

    @Test
    void twoChoicesAreKeptApart() {
        List<Hit> hits = new ArrayList<>();
        // together the digits would make a card: each choice alone holds only eight of them
        Recorder out = run(checking(Action.REDACT, hits),
                content(0, "Card 4111 1111 "), content(1, "1111 1111 is half."), content(0, "is short."),
                content(1, " And 4111 1111 11"), content(0, " Bye."), content(1, "11 1111 is one."),
                finish(0, "stop"), finish(1, "stop"));

        assertThat(out.content(0)).isEqualTo("Card 4111 1111 is short. Bye.");
        assertThat(out.content(1)).isEqualTo("1111 1111 is half. And [CARD] is one.");
        assertThat(hits).containsExactly(new Hit(23, 42, "pii", "card"));
        assertThat(out.finishes()).containsExactly("0:stop", "1:stop");
    }

    @Test
    void logprobsAreDroppedWhenTheGuardRewrites() {
        ObjectNode c = first("hello ");
        ((ObjectNode) c.at("/choices/0")).putObject("logprobs").putArray("content");
        Recorder out = run(checking(Action.REDACT, new ArrayList<>()), c);
        assertThat(out.chunks.get(0).at("/choices/0").has("logprobs")).isFalse();
    }

    @Test
    void aWholeAnswerIsRedactedInPlaceAndItsHitsReturned() {
        ObjectNode answer = Json.parseObjectOrNull("""
                {"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant",
                 "content":"Mail jane@x.com"}},{"index":1,"message":{"role":"assistant","content":"none"}}]}""");
        List<Hit> hits = GuardedStream.checkAnswer(answer, ALL_PII, Action.REDACT);
        assertThat(hits).extracting(Hit::entity).containsExactly("email");
        assertThat(answer.at("/choices/0/message/content").asText()).isEqualTo("Mail [EMAIL]");

        ObjectNode blocked = answer.deepCopy();
        ((ObjectNode) blocked.at("/choices/0/message")).put("content", "card 4111 1111 1111 1111");
        assertThat(GuardedStream.checkAnswer(blocked, ALL_PII, Action.BLOCK)).hasSize(1);
        assertThat(blocked.at("/choices/0/message/content").asText()).isEqualTo("card 4111 1111 1111 1111");
    }

    // ---- cost ----

    @Test
    void measuresTheAddedCostPerChunkOfCheckingAOneKilobyteAnswer() {
        StringBuilder kb = new StringBuilder("Sure. I've noted jane.doe@example.com and +44 20 7946 0958; the refund goes to "
                + "card 4111 1111 1111 1111 and DE89 3704 0044 0532 0130 00. ");
        while (kb.length() < 1024) {
            kb.append("The deployment in us-east-1 runs version 1.2.3 since 2026-12-01 and serves requests well. ");
        }
        String answer = kb.substring(0, 1024);
        int runs = 300;
        long[] perChunk = new long[runs * (answer.length() / 4 + 2)];
        int n = 0;
        for (int warm = 0; warm < 300; warm++) {
            play(answer, null);
        }
        long total = 0;
        for (int r = 0; r < runs; r++) {
            long[] times = new long[answer.length() / 4 + 2];
            total += play(answer, times);
            for (long t : times) {
                perChunk[n++] = t;
            }
        }
        long[] sorted = Arrays.copyOf(perChunk, n);
        Arrays.sort(sorted);
        long restoreTotal = 0;
        Placeholders p = new Placeholders();
        String deidentified = p.deidentify(answer, ALL_PII.scan(answer));
        for (int r = 0; r < runs; r++) {
            restoreTotal += playRestore(deidentified, p);
        }
        System.out.printf("GuardedStream.checking (all PII, redact), 1 KB in 4-char chunks: %.1f us/chunk mean, "
                        + "p50 %.1f us, p99 %.1f us, %.2f ms per KB; restoring: %.2f us/chunk%n",
                total / 1e3 / n, sorted[n / 2] / 1e3, sorted[(int) (n * 0.99)] / 1e3, total / 1e6 / runs,
                restoreTotal / 1e3 / ((double) runs * (answer.length() / 4 + 1)));
        assertThat(n).isPositive();
    }

    /** Streams the answer in 4-char chunks through a checking hook; nanoseconds inside the hook. */
    private static long play(String answer, long[] times) {
        GuardedStream hook = checking(Action.REDACT, new ArrayList<>());
        StreamHook.Out out = new StreamHook.Out() {
            @Override
            public void emit(ObjectNode chunk) {
            }

            @Override
            public void fail(GatewayException error) {
            }
        };
        List<ObjectNode> chunks = new ArrayList<>();
        for (int i = 0; i < answer.length(); i += 4) {
            chunks.add(content(0, answer.substring(i, Math.min(answer.length(), i + 4))));
        }
        chunks.add(finish(0, "stop"));
        long total = 0;
        for (int i = 0; i < chunks.size(); i++) {
            long t0 = System.nanoTime();
            hook.onChunk(chunks.get(i), out);
            long t = System.nanoTime() - t0;
            total += t;
            if (times != null) {
                times[i] = t;
            }
        }
        hook.onComplete(out);
        return total;
    }

    private static long playRestore(String answer, Placeholders p) {
        GuardedStream hook = GuardedStream.restoring(p);
        StreamHook.Out out = new StreamHook.Out() {
            @Override
            public void emit(ObjectNode chunk) {
            }

            @Override
            public void fail(GatewayException error) {
            }
        };
        List<ObjectNode> chunks = new ArrayList<>();
        for (int i = 0; i < answer.length(); i += 4) {
            chunks.add(content(0, answer.substring(i, Math.min(answer.length(), i + 4))));
        }
        long t0 = System.nanoTime();
        for (ObjectNode c : chunks) {
            hook.onChunk(c, out);
        }
        hook.onComplete(out);
        return System.nanoTime() - t0;
    }

    private static ObjectNode[] pieces(String text, int size) {
        List<ObjectNode> chunks = new ArrayList<>();
        for (int i = 0; i < text.length(); i += size) {
            String piece = text.substring(i, Math.min(text.length(), i + size));
            chunks.add(i == 0 ? first(piece) : content(0, piece));
        }
        chunks.add(finish(0, "stop"));
        return chunks.toArray(ObjectNode[]::new);
    }
}
