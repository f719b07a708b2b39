package dev.caravan.policy.guardrail.pii;

import static dev.caravan.policy.guardrail.pii.DetectorFixture.found;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class IpRecognizerTest {
    @Test
    void everyIpv4RangeIsFlaggedLoopbackAndPrivateToo() {
        assertThat(found("127.0.0.1 10.0.0.5 192.168.1.10 8.8.8.8"))
                .containsExactly("IP:ipv4:127.0.0.1", "IP:ipv4:10.0.0.5", "IP:ipv4:192.168.1.10", "IP:ipv4:8.8.8.8");
    }

    @Test
    void anOctetOver255OrALeadingZeroIsNotAnAddress() {
        assertThat(found("256.1.1.1 and 01.02.03.04")).isEmpty();
    }

    @Test
    void aLongerDottedRunOrAVersionIsNotAnAddress() {
        assertThat(found("1.2.3.4.5, v1.2.3.4, version 2.1.0.3, build 4.2.0.1")).isEmpty();
    }

    @Test
    void ipv6InFullCompressedAndMappedFormsIsFound() {
        assertThat(found("2001:0db8:85a3:0000:0000:8a2e:0370:7334 fe80::1 ::1 ::ffff:192.0.2.128"))
                .containsExactly("IP:ipv6:2001:0db8:85a3:0000:0000:8a2e:0370:7334", "IP:ipv6:fe80::1", "IP:ipv6:::1",
                        "IP:ipv6:::ffff:192.0.2.128");
    }

    @Test
    void aMacAddressAClockTimeAndCppScopesAreNotIpv6() {
        assertThat(found("00:1A:2B:3C:4D:5E at 12:30:45 in std::vector")).isEmpty();
    }

    @Test
    void twoDoubleColonsAreNotIpv6() {
        assertThat(IpRecognizer.isIpv6("2001::db8::1")).isFalse();
        assertThat(IpRecognizer.isIpv6("1:2:3:4:5:6:7:8:9")).isFalse();
    }
}
