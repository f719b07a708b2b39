package dev.caravan.usage;

import dev.caravan.core.Json;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The text of canonical content and of canonical answers, read the same way by every translator and estimate. */
class CanonicalTextTest {

    @Test
    void contentIsTheStringOrItsTextPartsJoined() {
        var parts = Json.parseObjectOrNull("""
                {"c": [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}},
                       {"type": "text", "text": "b"}]}""").get("c");
        assertThat(CanonicalText.of(parts, "\n")).isEqualTo("a\nb");
        assertThat(CanonicalText.of(parts, "")).isEqualTo("ab");
        assertThat(CanonicalText.of(Json.MAPPER.getNodeFactory().textNode("plain"), "\n")).isEqualTo("plain");
        assertThat(CanonicalText.of(null, "\n")).isEmpty();
        assertThat(CanonicalText.of(Json.MAPPER.getNodeFactory().nullNode(), "\n")).isEmpty();
    }

    @Test
    void generatedTextIsContentThenReasoningThenEachToolCallsNameAndArguments() {
        var completion = Json.parseObjectOrNull("""
                {"choices": [{"message": {"content": "hi", "reasoning_content": "hm",
                  "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}},
                  {"message": {"content": null}}]}""");
        assertThat(CanonicalText.generated(completion)).isEqualTo("hihmf{}");
        List<String> pieces = new ArrayList<>();
        CanonicalText.eachGenerated(completion.get("choices").get(0).get("message"), pieces::add);
        assertThat(pieces).containsExactly("hi", "hm", "f", "{}");
    }
}
