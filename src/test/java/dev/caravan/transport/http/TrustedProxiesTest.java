package dev.caravan.transport.http;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** caravan.trustedProxies: whose X-Forwarded-For is believed, and which of its addresses is the client. */
class TrustedProxiesTest {

    final TrustedProxies proxies = TrustedProxies.parse("10.0.0.0/8, 192.168.1.5, fd00::/8");

    @Test
    void anUntrustedPeerIsTheClientWhateverItForwards() {
        assertThat(proxies.clientAddress("203.0.113.1", List.of("198.51.100.7"))).isEqualTo("203.0.113.1");
        assertThat(TrustedProxies.NONE.clientAddress("10.1.1.1", List.of("198.51.100.7"))).isEqualTo("10.1.1.1");
    }

    @Test
    void behindTrustedProxiesTheRightMostUntrustedHopIsTheClient() {
        assertThat(proxies.clientAddress("10.1.1.1", List.of("198.51.100.7, 203.0.113.9, 192.168.1.5"))).isEqualTo("203.0.113.9");
        // several header lines read as one list, in order
        assertThat(proxies.clientAddress("10.1.1.1", List.of("198.51.100.7", "203.0.113.9"))).isEqualTo("203.0.113.9");
        assertThat(proxies.clientAddress("fd00::1", List.of("[2001:db8::5]:443"))).isEqualTo("2001:db8:0:0:0:0:0:5");
        assertThat(proxies.clientAddress("10.1.1.1", List.of("203.0.113.9:8080"))).isEqualTo("203.0.113.9");
    }

    @Test
    void garbageOrAChainOfProxiesStopsAtTheLastHopVouchedFor() {
        assertThat(proxies.clientAddress("10.1.1.1", List.of("evil.example, 10.2.2.2"))).isEqualTo("10.2.2.2");
        assertThat(proxies.clientAddress("10.1.1.1", List.of("unknown"))).isEqualTo("10.1.1.1");
        assertThat(proxies.clientAddress("10.1.1.1", List.of("10.3.3.3, 10.2.2.2"))).isEqualTo("10.3.3.3");
        assertThat(proxies.clientAddress("10.1.1.1", List.of())).isEqualTo("10.1.1.1");
    }

    @Test
    void aBadEntryIsRefusedNeverLookedUp() {
        assertThatThrownBy(() -> TrustedProxies.parse("proxy.internal")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> TrustedProxies.parse("10.0.0.0/33")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> TrustedProxies.parse("10.1")).isInstanceOf(IllegalArgumentException.class);
        assertThat(TrustedProxies.parse(" ").isEmpty()).isTrue();
    }
}
