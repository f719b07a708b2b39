package dev.caravan.usage;

import dev.caravan.config.DeploymentConfig.Price;
import dev.caravan.config.PriceTable;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** What tokens cost: exact in pico-dollars, rounded once to nano-dollars, never negative, never wrapped. */
class PricingTest {

    private static Usage usage(long prompt, long completion, long cached) {
        return new Usage(prompt, completion, prompt + completion, cached, 0, false);
    }

    private static Price price(double input, double output, double cachedInput) {
        return new Price(input, output, cachedInput, "config");
    }

    @Test
    void theShippedGpt4oMiniPriceMakesAMillionInAndAMillionOutSeventyFiveCents() {
        Price mini = PriceTable.shipped().priceOf("gpt-4o-mini");
        long nanos = Pricing.costNanos(usage(1_000_000, 1_000_000, 0), mini);
        assertThat(nanos).isEqualTo(750_000_000L);
        assertThat(Pricing.usd(nanos)).isEqualTo("0.75");
    }

    @Test
    void cachedPromptTokensCostTheCachedInputPriceAndTheRestTheInputPrice() {
        Price mini = PriceTable.shipped().priceOf("gpt-4o-mini"); // 0.15 in, 0.075 cached, 0.60 out
        // 600k uncached at 0.15 ($0.09) + 400k cached at 0.075 ($0.03) + 1k out at 0.60 ($0.0006)
        assertThat(Pricing.costNanos(usage(1_000_000, 1_000, 400_000), mini)).isEqualTo(120_600_000L);
    }

    @Test
    void aPriceWithoutCachedInputChargesCachedTokensAtTheInputPrice() {
        assertThat(Pricing.costNanos(usage(1_000_000, 0, 500_000), new Price(2.0, 8.0))).isEqualTo(2_000_000_000L);
    }

    @Test
    void moreCachedTokensThanPromptTokensAreHeldToThePrompt() {
        Price p = price(1.0, 0, 0.5);
        assertThat(Pricing.costNanos(usage(1_000, 0, 5_000), p)).isEqualTo(Pricing.costNanos(usage(1_000, 0, 1_000), p))
                .isEqualTo(500_000L); // 1000 cached tokens at $0.5 per million
    }

    @Test
    void theSumIsRoundedHalfUpOnceNotEachPart() {
        Price tiny = price(0.0004, 0.0004, 0.0004); // 400 pico-dollars a token: 0.4 nano-dollars
        assertThat(Pricing.costNanos(usage(1, 0, 0), tiny)).isZero();
        // 0.4 + 0.4 = 0.8 nano-dollars: one nano-dollar, where rounding each part would give none
        assertThat(Pricing.costNanos(usage(1, 1, 0), tiny)).isEqualTo(1);
        assertThat(Pricing.costNanos(usage(1, 0, 0), price(0.0005, 0, 0))).isEqualTo(1); // exactly half: up
        assertThat(Pricing.costNanos(usage(1, 0, 0), price(0.000499, 0, 0))).isZero();
        assertThat(Pricing.costNanos(usage(1, 0, 0), price(0.0015, 0, 0))).isEqualTo(2);
        // 3 x 1.234 nano-dollars = 3.702: 4
        assertThat(Pricing.costNanos(usage(3, 0, 0), price(0.001234, 0, 0))).isEqualTo(4);
    }

    @Test
    void pricesWithSixDecimalsAreExact() {
        // 0.1 + 0.2 is not 0.3 in doubles; in pico-dollars per token it is
        Price p = price(0.1, 0.2, 0.1);
        assertThat(Pricing.costNanos(usage(3_000_000, 3_000_000, 0), p)).isEqualTo(900_000_000L);
        assertThat(Pricing.costNanos(usage(7, 0, 0), price(0.000001, 0, 0))).isZero(); // 7 pico-dollars
        assertThat(Pricing.costNanos(usage(500, 0, 0), price(0.000001, 0, 0))).isEqualTo(1); // 500 pico-dollars
    }

    @Test
    void theLargestUsageAtTheLargestConfigPriceFitsExactly() {
        Price max = price(1_000_000, 1_000_000, 1_000_000); // config's bound per million tokens
        Usage most = usage(Usage.MAX_TOKENS, Usage.MAX_TOKENS, 0);
        assertThat(Pricing.costNanos(most, max)).isEqualTo(2_000_000_000_000_000_000L); // $2e9
    }

    @Test
    void anAbsurdPriceSaturatesRatherThanWrapsOrFails() {
        Usage most = usage(Usage.MAX_TOKENS, Usage.MAX_TOKENS, Usage.MAX_TOKENS / 2);
        for (double absurd : new double[] {1e13, 1e300, Double.MAX_VALUE, Double.POSITIVE_INFINITY}) {
            assertThat(Pricing.costNanos(most, price(absurd, absurd, absurd))).as("%s", absurd).isEqualTo(Long.MAX_VALUE);
            assertThat(Pricing.costNanos(usage(1, 0, 0), price(absurd, 0, 0))).as("%s", absurd).isPositive();
        }
        assertThat(Pricing.costNanos(most, price(1e12, 1e12, 1e12))).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void aNegativeOrNotANumberPriceCostsNothing() {
        Usage some = usage(1_000_000, 1_000_000, 0);
        assertThat(Pricing.costNanos(some, price(-1, -5, -1))).isZero();
        assertThat(Pricing.costNanos(some, price(Double.NaN, Double.NaN, Double.NaN))).isZero();
        assertThat(Pricing.costNanos(some, price(Double.NEGATIVE_INFINITY, 1, 0))).isEqualTo(1_000_000_000L);
    }

    @Test
    void noPriceOrNoUsageCostsNothing() {
        assertThat(Pricing.costNanos(usage(1_000_000, 1_000_000, 0), null)).isZero();
        assertThat(Pricing.costNanos(Usage.NONE, new Price(2.5, 10))).isZero();
        assertThat(Pricing.costNanos(null, new Price(2.5, 10))).isZero();
    }

    @Test
    void embeddingsCostTheirInputTokens() {
        Price small = PriceTable.shipped().priceOf("text-embedding-3-small"); // 0.02 in, 0 out
        assertThat(Pricing.costNanos(new Usage(50_000, 0, 50_000, false), small)).isEqualTo(1_000_000L); // $0.001
    }

    @Test
    void dollarsAreWrittenPlainWithUpToNineDecimals() {
        assertThat(Pricing.usd(0)).isEqualTo("0");
        assertThat(Pricing.usd(1)).isEqualTo("0.000000001");
        assertThat(Pricing.usd(123_000)).isEqualTo("0.000123");
        assertThat(Pricing.usd(750_000_000)).isEqualTo("0.75");
        assertThat(Pricing.usd(12_000_000_000L)).isEqualTo("12");
        assertThat(Pricing.usd(Long.MAX_VALUE)).isEqualTo("9223372036.854775807");
    }
}
