package dev.caravan.policy.guardrail.pii;

import static dev.caravan.policy.guardrail.pii.DetectorFixture.found;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class SecretRecognizerTest {
    // made up at run time with the providers' shapes: never a key-shaped literal a secret scanner would flag
    private static final String OPENAI = "sk-proj-" + PiiEvaluationTest.expand("«M48#1»", 1);
    private static final String AWS_ID = "AKIA" + PiiEvaluationTest.expand("«U16#1»", 2);

    @Test
    void aRandomLookingOpenAiKeyIsASecret() {
        assertThat(found("key " + OPENAI)).containsExactly("SECRET:openai-api-key:" + OPENAI);
    }

    @Test
    void placeholderAndWordyKeysAreNotSecrets() {
        assertThat(found("sk-test, sk-this-is-not-a-key, sk-my-super-secret-project-name-goes-here")).isEmpty();
    }

    @Test
    void anAnthropicKeyIsNamedAnthropicNotOpenAi() {
        String key = "sk-ant-api03-" + PiiEvaluationTest.expand("«M48#1»", 3);
        assertThat(found(key)).containsExactly("SECRET:anthropic-api-key:" + key);
    }

    @Test
    void anAwsAccessKeyIdIsASecretOnItsShape() {
        assertThat(found("id=" + AWS_ID)).containsExactly("SECRET:aws-access-key:" + AWS_ID);
    }

    @Test
    void fortyBase64CharsAreAnAwsSecretOnlyNextToAwsWords() {
        String secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKY";
        assertThat(found("aws_secret_access_key=" + secret)).containsExactly("SECRET:aws-secret-key:" + secret);
        assertThat(found("payload " + secret)).isEmpty();
    }

    @Test
    void aGitShaIsNotAnAwsSecretEvenNextToAwsWords() {
        assertThat(found("aws deploy commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3")).isEmpty();
    }

    @Test
    void aPrivateKeyBlockIsOneFindingFromBeginToEnd() {
        String block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7s\nq2Lw==\n-----END RSA PRIVATE KEY-----";
        assertThat(found("key:\n" + block + "\nthanks")).containsExactly("SECRET:private-key:" + block);
    }

    @Test
    void aPrivateKeyPastedWithoutItsEndCoversItsBase64Lines() {
        String block = "-----BEGIN PRIVATE KEY-----\nMIIEowIBAAKCAQEA7s\nq2Lw==";
        assertThat(found(block + "\n\nwhat is this?")).containsExactly("SECRET:private-key:" + block);
    }

    @Test
    void aJwtNeedsAHeaderWithAlg() {
        String header = b64("{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
        String jwt = header + "." + b64("{\"sub\":\"42\"}") + ".dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assertThat(found("Bearer " + jwt)).containsExactly("SECRET:jwt:" + jwt);
        String notJwt = b64("{\"typ\":\"x\"}") + "." + b64("{\"sub\":\"42\"}") + ".dBjftJeZ4CVPmB92K27uhbUJU1p1r";
        assertThat(found(notJwt)).isEmpty();
    }

    @Test
    void cloudWordsAreNeverSecrets() {
        assertThat(found("C4 S3 EKS us-east-1 v1.2.3 2026-12-01T10:00:00Z ORD-123456789 m5.large")).isEmpty();
    }

    @Test
    void entropyIsBitsPerChar() {
        assertThat(SecretRecognizer.entropy("aaaa")).isZero();
        assertThat(SecretRecognizer.entropy("abcd")).isEqualTo(2.0);
    }

    private static String b64(String json) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(json.getBytes(StandardCharsets.UTF_8));
    }
}
