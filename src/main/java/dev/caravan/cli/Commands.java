package dev.caravan.cli;

import dev.caravan.auth.KeySecrets;

import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * The command line besides starting the gateway: {@code --help}, {@code --version}, {@code key new} and
 * {@code key hash}. Each prints what it was asked for and exits; none starts Camel or reads config. Exit codes as at
 * start: 0 done, 2 a usage error ({@link #USAGE}).
 */
public final class Commands {

    public static final int OK = 0;
    public static final int USAGE = 2;
    private static final Pattern ID = Pattern.compile("^[A-Za-z0-9._-]+$"); // the schema's pattern for keys[].id

    static final String HELP = """
            Usage: caravan [command]

              (none)            start the gateway: config/gateway.yaml, config/application.properties and routes/
                                (CARAVAN_CONFIG, CARAVAN_PROPERTIES, CARAVAN_ROUTES name others)
              key new [ID]      print a new virtual key, its SHA-256 and the line to add under keys: in
                                config/gateway.yaml (the key itself is shown only this once)
              key hash [KEY]    print the SHA-256 of a key read from stdin, or given as KEY (stdin keeps it out of
                                the shell's history): printf '%s' "$KEY" | caravan key hash
              audit verify      check the audit log's hash chain (exit 0 intact, 1 broken, 2 no database)
              --version         print the version
              --help            print this help

            Environment: CARAVAN_PORT (4000), CARAVAN_MASTER_KEY (an admin key), CARAVAN_DATA_DIR (data/),
              CARAVAN_DB_URL (PostgreSQL), CARAVAN_REDIS_URL (shared state between replicas).
            Exit codes: 0 stopped cleanly; 1 cannot start (a port in use, a database down); 2 invalid config,
              route or command line. A reason that cannot start is one line on stderr: "Caravan cannot start: ...".
            """;

    private Commands() {
    }

    /** Whether {@code args} ask for anything but starting the gateway (or {@code audit}, which has its own command). */
    public static boolean wanted(String[] args) {
        return args.length > 0 && !"audit".equals(args[0]);
    }

    /** From {@code main}: the process's streams. */
    public static int fromCommandLine(String[] args) {
        return run(args, System.in, System.console(), System.out, System.err);
    }

    /**
     * Runs {@code args}; the exit code.
     *
     * @param console the terminal, when both ends are one: {@code key hash} then asks for the key without echo
     */
    public static int run(String[] args, InputStream in, Console console, PrintStream out, PrintStream err) {
        switch (args[0]) {
            case "--help", "-h", "help" -> {
                out.print(HELP);
                return OK;
            }
            case "--version", "-V", "version" -> {
                out.println("caravan " + version());
                return OK;
            }
            case "key" -> {
                if (args.length >= 2 && args[1].equals("new") && args.length <= 3) {
                    return keyNew(args.length == 3 ? args[2] : KeySecrets.newId(), out, err);
                }
                if (args.length >= 2 && args[1].equals("hash") && args.length <= 3) {
                    return keyHash(args.length == 3 ? args[2] : null, in, console, out, err);
                }
                err.println("usage: caravan key new [ID] | caravan key hash [KEY] (see caravan --help)");
                return USAGE;
            }
            default -> {
                err.println("caravan: unknown argument '" + args[0] + "' (see caravan --help)");
                return USAGE;
            }
        }
    }

    private static int keyNew(String id, PrintStream out, PrintStream err) {
        if (!ID.matcher(id).matches()) {
            err.println("caravan key new: the id may hold only letters, digits and . _ -");
            return USAGE;
        }
        String key = KeySecrets.newSecret();
        String sha256 = KeySecrets.sha256Hex(key);
        out.println("key:    " + key);
        out.println("sha256: " + sha256);
        out.println("# under keys: in config/gateway.yaml (the key is not stored; give it to its caller now):");
        out.println("  - { id: " + id + ", sha256: " + sha256 + ", role: user }");
        return OK;
    }

    private static int keyHash(String given, InputStream in, Console console, PrintStream out, PrintStream err) {
        String key;
        if (given != null) {
            key = given;
        } else if (console != null) {
            char[] typed = console.readPassword("key: ");
            key = typed == null ? "" : new String(typed);
        } else {
            try {
                key = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                err.println("caravan key hash: cannot read stdin: " + e.getMessage());
                return USAGE;
            }
        }
        // `echo "$KEY" |` adds a line break; a key never holds white space, and the gateway trims the header alike
        key = key.strip();
        if (key.isEmpty()) {
            err.println("caravan key hash: no key on stdin (printf '%s' \"$KEY\" | caravan key hash)");
            return USAGE;
        }
        out.println(KeySecrets.sha256Hex(key));
        return OK;
    }

    /** The build's version: from the jar (or target/classes), as the pom names it. */
    public static String version() {
        try (InputStream in = Commands.class.getResourceAsStream("/caravan/version.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                String v = p.getProperty("version");
                if (v != null && !v.isBlank() && !v.startsWith("${")) {
                    return v;
                }
            }
        } catch (IOException e) {
            // fall through to the manifest
        }
        String manifest = Commands.class.getPackage().getImplementationVersion();
        return manifest == null ? "unknown" : manifest;
    }
}
