package dev.caravan.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An identity provider for one test: its own RSA and EC key pairs, a JWKS (and an OpenID discovery document) served
 * from an in-test HTTP server on 127.0.0.1, and tokens signed with its keys. It counts how often each is fetched.
 */
final class TestIssuer implements AutoCloseable {

    final int port;
    private final String path;
    private final boolean trailingSlash;
    final RSAKey rsa;
    final ECKey ec;
    private final List<JWK> published = new CopyOnWriteArrayList<>();
    final AtomicInteger jwksFetches = new AtomicInteger();
    final AtomicInteger discoveryFetches = new AtomicInteger();
    private HttpServer server;
    private ServerSocket stalled;
    private final List<Socket> held = new CopyOnWriteArrayList<>();

    /** @param path the issuer's path ({@code /realms/acme}); {@code trailingSlash}: its iss ends with '/' (Auth0) */
    TestIssuer(int port, String path, boolean trailingSlash) {
        this.port = port;
        this.path = path;
        this.trailingSlash = trailingSlash;
        this.rsa = rsaKey("rsa-1");
        this.ec = ecKey("ec-1");
        published.add(rsa);
        published.add(ec);
    }

    static RSAKey rsaKey(String kid) {
        try {
            return new RSAKeyGenerator(2048).keyID(kid).generate();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    static ECKey ecKey(String kid) {
        try {
            return new ECKeyGenerator(Curve.P_256).keyID(kid).generate();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Starts answering: the JWKS, and the discovery document under the issuer's .well-known. */
    TestIssuer serve() {
        try {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.createContext(path + "/.well-known/openid-configuration", x -> {
            discoveryFetches.incrementAndGet();
            answer(x, "{\"issuer\":\"" + issuer() + "\",\"jwks_uri\":\"" + jwksUrl() + "\",\"id_token_signing_alg_values_supported\":[\"RS256\"]}");
        });
        server.createContext(path + "/protocol/openid-connect/certs", x -> {
            jwksFetches.incrementAndGet();
            answer(x, new JWKSet(published).toString()); // public halves only
        });
        server.start();
        return this;
    }

    /** Takes connections on the issuer's port and never answers on them: an IdP that hangs. */
    TestIssuer stall() {
        try {
            stalled = new ServerSocket(port, 50, InetAddress.getLoopbackAddress());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Thread holder = new Thread(() -> {
            while (!stalled.isClosed()) {
                try {
                    held.add(stalled.accept()); // read nothing, answer nothing
                } catch (IOException closed) {
                    return;
                }
            }
        }, "stalled-idp");
        holder.setDaemon(true);
        holder.start();
        return this;
    }

    private static void answer(HttpExchange x, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().add("Content-Type", "application/json");
        x.sendResponseHeaders(200, body.length);
        x.getResponseBody().write(body);
        x.close();
    }

    String issuer() {
        return "http://127.0.0.1:" + port + path + (trailingSlash ? "/" : "");
    }

    String jwksUrl() {
        return "http://127.0.0.1:" + port + path + "/protocol/openid-connect/certs";
    }

    /** Adds a key to the JWKS (a rotation); callers see it at their next fetch. */
    void publish(JWK key) {
        published.add(key);
    }

    /** Claims a valid token of this issuer carries: iss, aud, sub, five minutes to live. */
    JWTClaimsSet.Builder claims(String audience, String subject) {
        Instant now = Instant.now();
        return new JWTClaimsSet.Builder().issuer(issuer()).audience(audience).subject(subject)
                .issueTime(Date.from(now)).expirationTime(Date.from(now.plus(Duration.ofMinutes(5))));
    }

    /** Signed RS256 with this issuer's RSA key. */
    String token(JWTClaimsSet.Builder claims) {
        return sign(rsa, JWSAlgorithm.RS256, claims.build());
    }

    static String sign(JWK key, JWSAlgorithm alg, JWTClaimsSet claims) {
        try {
            JWSSigner signer = key instanceof RSAKey r ? new RSASSASigner(r) : new ECDSASigner((ECKey) key);
            SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID(key.getKeyID()).type(JOSEObjectType.JWT).build(),
                    claims);
            jwt.sign(signer);
            return jwt.serialize();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() throws IOException {
        if (server != null) {
            server.stop(0);
        }
        if (stalled != null) {
            stalled.close();
            for (Socket s : held) {
                s.close();
            }
        }
    }
}
