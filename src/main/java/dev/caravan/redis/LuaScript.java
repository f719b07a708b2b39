package dev.caravan.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** A Lua script from caravan/redis/: its name for messages, its text for EVAL, its SHA-1 for EVALSHA. */
public record LuaScript(String name, String text, String sha) {

    /**
     * Loads the scripts {@code names} from caravan/redis/, joined by a newline in order (a shared prelude first),
     * named by the last.
     */
    public static LuaScript load(String... names) {
        StringBuilder text = new StringBuilder();
        for (String name : names) {
            String path = "/caravan/redis/" + name + ".lua";
            try (InputStream in = LuaScript.class.getResourceAsStream(path)) {
                if (in == null) {
                    throw new IllegalStateException("missing resource " + path);
                }
                if (!text.isEmpty()) {
                    text.append('\n');
                }
                text.append(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        try {
            byte[] sha = MessageDigest.getInstance("SHA-1").digest(text.toString().getBytes(StandardCharsets.UTF_8));
            return new LuaScript(names[names.length - 1], text.toString(), HexFormat.of().formatHex(sha));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
