package dev.caravan.config;

import org.apache.camel.CamelContext;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.model.ModelCamelContext;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.model.RouteTemplateDefinition;
import org.apache.camel.spi.Resource;
import org.apache.camel.spi.RoutesLoader;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.ResourceHelper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Hot reload of config/gateway.yaml and routes/*.camel.yaml, validated before it is applied. Camel's own reload
 * removes routes before it knows the new ones start, so an invalid edit could leave the gateway with none; here a
 * changed file is parsed in a throwaway context first, only its own routes (by id) are replaced, and if they fail
 * to start the previous definitions come back. Every outcome is logged and counted in
 * {@code caravan_config_reload_total{kind,result}}.
 *
 * <p>What counts as a change is the content, not the event: any event in a watched folder (and, as a fallback, a
 * poll every {@code caravan.reloadPoll}) compares each watched file's SHA-256, read through symlinks, with the last
 * one loaded. A Kubernetes ConfigMap volume swaps a {@code ..data} symlink and never writes {@code gateway.yaml}
 * itself, so events name only {@code ..data}; NFS and some overlay mounts deliver no events at all; an editor's
 * touch changes nothing, so nothing reloads.
 */
public final class ReloadWatcher {

    private static final Logger LOG = LoggerFactory.getLogger(ReloadWatcher.class);
    private static final long SETTLE_MILLIS = 150; // editors write a file in several steps
    /** Default of {@code caravan.reloadPoll}: a missed event costs at most this long; hashing 14 small files is ~1 ms. */
    public static final Duration DEFAULT_POLL = Duration.ofSeconds(5);

    private final CamelContext context;
    private final ConfigHolder config;
    private final ConfigLoader loader;
    private final Path configFile;
    private final Path routesDir;
    /** Counts each reload by kind and outcome (caravan_config_reload_total); config knows no metrics library. */
    private final java.util.function.BiConsumer<String, Boolean> metrics;
    private final Runnable templatesChanged;
    private final List<ConfigReloads> configReloads = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** The SHA-256 of each watched file as last loaded (applied or refused): the same content is not loaded twice. */
    private final Map<Path, String> loaded = new java.util.concurrent.ConcurrentHashMap<>();
    /** Watched files found missing (a deletion keeps what runs, as an unwatched deletion always did): logged once. */
    private final Set<Path> missing = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** One reload at a time, whether the watcher or the admin API asked for it. */
    private final Object reloading = new Object();
    private volatile WatchService watchService;
    private volatile boolean stopped;
    private Thread thread;

    public ReloadWatcher(CamelContext context, ConfigHolder config, ConfigLoader loader, Path configFile, Path routesDir,
                         java.util.function.BiConsumer<String, Boolean> metrics, Runnable templatesChanged) {
        this.context = context;
        this.config = config;
        this.loader = loader;
        this.configFile = configFile.toAbsolutePath().normalize();
        this.routesDir = routesDir.toAbsolutePath().normalize();
        this.metrics = metrics;
        this.templatesChanged = templatesChanged;
        // what is on disk now is what was just loaded at start
        remember(this.configFile);
        for (Path file : routeFiles()) {
            remember(file);
        }
    }

    /** Hears every reload of the config file, applied or refused, whoever asked for it (this watcher, an admin call). */
    @FunctionalInterface
    public interface ConfigReloads {
        /**
         * @param previous the file's config before the reload (still serving when it was refused)
         * @param next     the config read from the file, or null when it could not be read or was invalid
         * @param refusal  why it was refused (the log line's reason), or null when it applied
         */
        void reloaded(GatewayConfig previous, GatewayConfig next, Path file, String refusal);
    }

    /** Adds a listener of config reloads (the audit log); one that throws is logged and the reload stands. */
    public void onConfigReload(ConfigReloads listener) {
        configReloads.add(listener);
    }

    /**
     * Watches with the settings {@code caravan.reloadPoll} (a duration, default 5s, 0 = no poll) and
     * {@code caravan.reloadEvents} (default true; false = poll only, for filesystems whose events never arrive).
     */
    public void start() {
        String poll = property("caravan.reloadPoll", null);
        Duration interval;
        try {
            interval = poll == null ? DEFAULT_POLL : ConfigLoader.parseDuration(poll);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("caravan.reloadPoll: " + e.getMessage(), e);
        }
        start(interval, Boolean.parseBoolean(property("caravan.reloadEvents", "true")));
    }

    /** Watches folder events (when {@code events}) and polls the files' content every {@code poll} (unless zero). */
    public void start(Duration poll, boolean events) {
        long pollMillis = poll.toMillis();
        if (events) {
            try {
                watchService = FileSystems.getDefault().newWatchService();
                Set<Path> dirs = new LinkedHashSet<>(List.of(configFile.getParent(), routesDir));
                for (Path dir : dirs) {
                    // any event is only a cue to compare hashes: a ..data swap shows as create and delete
                    dir.register(watchService, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                            StandardWatchEventKinds.ENTRY_DELETE);
                }
            } catch (IOException | RuntimeException e) {
                closeWatchService();
                if (pollMillis <= 0) {
                    LOG.warn("Hot reload is off: cannot watch {} and {} ({}) and caravan.reloadPoll is 0",
                            configFile, routesDir, describe(e));
                    return;
                }
                LOG.warn("Cannot watch {} and {} ({}): polling their content every {} instead", configFile, routesDir,
                        describe(e), poll);
            }
        } else if (pollMillis <= 0) {
            LOG.warn("Hot reload is off: caravan.reloadEvents is false and caravan.reloadPoll is 0");
            return;
        }
        thread = new Thread(() -> run(pollMillis), "caravan-reload");
        thread.setDaemon(true);
        thread.start();
        LOG.info("Watching {} and {}/*.camel.yaml for changes ({}{})", configFile, routesDir,
                watchService == null ? "no file events" : "file events",
                pollMillis > 0 ? ", content polled every " + poll.toString().substring(2).toLowerCase(java.util.Locale.ROOT) : "");
    }

    public void stop() {
        stopped = true;
        closeWatchService();
        Thread t = thread;
        if (t != null) {
            t.interrupt();
        }
    }

    private void closeWatchService() {
        try {
            if (watchService != null) {
                watchService.close();
            }
        } catch (IOException ignored) {
            // closing only
        }
    }

    private void run(long pollMillis) {
        while (!stopped) {
            try {
                WatchService events = watchService;
                if (events == null) {
                    Thread.sleep(pollMillis);
                } else {
                    WatchKey key = pollMillis > 0 ? events.poll(pollMillis, TimeUnit.MILLISECONDS) : events.take();
                    if (key != null) {
                        drain(key);
                        // let a burst of writes settle into one reload
                        WatchKey more;
                        while ((more = events.poll(SETTLE_MILLIS, TimeUnit.MILLISECONDS)) != null) {
                            drain(more);
                        }
                    }
                }
                if (!stopped) {
                    reloadChanged();
                }
            } catch (InterruptedException | ClosedWatchServiceException e) {
                return; // stopping
            } catch (RuntimeException | Error e) {
                fatalOr(e);
                // never the end of hot reload: the next edit is watched for as before
                LOG.warn("Hot reload: {}; watching on", describe(e));
                LOG.debug("Hot reload failure", e);
            }
        }
    }

    /**
     * Reloads every watched file whose content differs from what was last loaded: the config file, then each
     * {@code routes/*.camel.yaml} (new files included). A file that is gone is skipped: what it defined keeps running.
     */
    public void reloadChanged() {
        synchronized (reloading) {
            String hash = changedHash(configFile);
            if (hash != null) {
                loaded.put(configFile, hash);
                applyConfig();
            }
            for (Path file : routeFiles()) {
                hash = changedHash(file);
                if (hash != null) {
                    loaded.put(file, hash);
                    applyRoutes(file);
                }
            }
        }
    }

    /** The file's hash when it differs from the one last loaded, else null (unchanged or unreadable). */
    private String changedHash(Path file) {
        String hash = sha256(file);
        if (hash == null) {
            if (missing.add(file)) {
                LOG.info("{} cannot be read now; what it defined keeps running", file);
            }
            return null;
        }
        missing.remove(file);
        return hash.equals(loaded.get(file)) ? null : hash;
    }

    private void remember(Path file) {
        String hash = sha256(file);
        if (hash != null) {
            loaded.put(file, hash);
        }
    }

    /** Every {@code *.camel.yaml} in the routes folder that is (or links to) a regular file, in name order. */
    private List<Path> routeFiles() {
        try (java.util.stream.Stream<Path> list = Files.list(routesDir)) {
            return list.filter(f -> f.getFileName().toString().endsWith(".camel.yaml") && Files.isRegularFile(f))
                    .map(f -> f.toAbsolutePath().normalize()).sorted().toList();
        } catch (IOException | RuntimeException e) {
            LOG.debug("Cannot list {}: {}", routesDir, describe(e));
            return List.of();
        }
    }

    /** SHA-256 of the file's bytes, read through symlinks; null when it cannot be read. */
    private static String sha256(Path file) {
        try {
            byte[] bytes = Files.readAllBytes(file);
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (IOException | RuntimeException e) {
            return null;
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    private String property(String key, String fallback) {
        return context == null ? fallback : context.getPropertiesComponent().resolveProperty(key).orElse(fallback);
    }

    /** Empties one key's events: which file they name does not matter, the hashes say what changed. */
    private static void drain(WatchKey key) {
        key.pollEvents();
        key.reset();
    }

    /**
     * Loads and validates the config file, then swaps it in; the running config stays unless both succeed. Any
     * failure, whatever it is, refuses the edit: one log line, the failure counted, the watcher carries on.
     */
    public boolean reloadConfig() {
        synchronized (reloading) {
            remember(configFile);
            return applyConfig();
        }
    }

    private boolean applyConfig() {
        String name = configFile.getFileName().toString();
        GatewayConfig previous = config.file();
        GatewayConfig next;
        try {
            next = loader.load(configFile);
        } catch (ConfigException e) {
            return refusedConfig(previous, null, "the previous config keeps serving. " + e.getMessage(), null);
        } catch (RuntimeException | Error e) {
            fatalOr(e);
            return refusedConfig(previous, null, "the previous config keeps serving. It cannot be loaded: "
                    + describe(e), e);
        }
        try {
            config.replace(next); // on a failure the previous config is back in place, routes and all
        } catch (RuntimeException | Error e) {
            fatalOr(e);
            return refusedConfig(previous, next, "it could not be applied (" + describe(e) + "); the previous config "
                    + "is back and keeps serving", e);
        }
        applied("config", name);
        tell(previous, next, null);
        LOG.info("Reloaded {}: {} model(s), {} provider(s), {} key(s)", name,
                next.models().size(), next.providers().size(), next.keysBySha256().size());
        return true;
    }

    /**
     * Validates one route file, then replaces the routes and route templates it defines (and restamps the routes
     * made from a changed template); on any failure the previous routes and templates come back.
     */
    public boolean reloadRoutes(Path file) {
        synchronized (reloading) {
            Path normalized = file.toAbsolutePath().normalize();
            remember(normalized);
            return applyRoutes(normalized);
        }
    }

    private boolean applyRoutes(Path file) {
        String name = file.getFileName().toString();
        List<RouteDefinition> fresh;
        List<String> templates = new ArrayList<>();
        Resource resource;
        try {
            resource = ResourceHelper.resolveResource(context, "file:" + file);
            fresh = parse(resource, templates);
        } catch (Exception | Error e) {
            fatalOr(e);
            return refused("routes", name, "its routes keep serving as they were. " + rootMessage(e), null);
        }
        ModelCamelContext model = (ModelCamelContext) context;
        Map<String, RouteDefinition> previous = new LinkedHashMap<>();
        for (RouteDefinition def : fresh) {
            RouteDefinition old = model.getRouteDefinition(def.getRouteId());
            if (old != null) {
                previous.put(def.getRouteId(), old);
            }
        }
        List<RouteTemplateDefinition> previousTemplates = model.getRouteTemplateDefinitions().stream()
                .filter(t -> templates.contains(t.getId())).toList();
        try {
            // Camel appends reloaded templates after the old ones and keeps using the first: drop the old first
            for (String template : templates) {
                model.removeRouteTemplateDefinitions(template);
            }
            Set<String> updated = PluginHelper.getRoutesLoader(context).updateRoutes(List.of(resource));
            if (!templates.isEmpty()) {
                templatesChanged.run();
            }
            applied("routes", name);
            LOG.info("Reloaded {}: route(s) {}{}", name, updated, templates.isEmpty() ? "" : ", template(s) " + templates);
            return true;
        } catch (Exception | Error e) {
            fatalOr(e);
            restore(model, fresh, previous, templates, previousTemplates);
            return refused("routes", name, "its routes failed to start (" + rootMessage(e)
                    + "); the previous ones are back", null);
        }
    }

    private void applied(String kind, String name) {
        metrics.accept(kind, true);
        config.reloaded(name, null);
    }

    private boolean refusedConfig(GatewayConfig previous, GatewayConfig next, String why, Throwable unexpected) {
        refused("config", configFile.getFileName().toString(), why, unexpected);
        tell(previous, next, why);
        return false;
    }

    private void tell(GatewayConfig previous, GatewayConfig next, String refusal) {
        for (ConfigReloads listener : configReloads) {
            try {
                listener.reloaded(previous, next, configFile, refusal);
            } catch (RuntimeException e) {
                LOG.warn("A config reload listener failed: {}", describe(e));
            }
        }
    }

    /** One WARN line without a stack trace (a config error is not a bug); an unexpected failure's trace at DEBUG. */
    private boolean refused(String kind, String name, String why, Throwable unexpected) {
        metrics.accept(kind, false);
        config.reloaded(name, Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        LOG.warn("Refused to reload {}: {}", name, why);
        if (unexpected != null) {
            LOG.debug("Reload of {} failed", name, unexpected);
        }
        return false;
    }

    /** A VM error (out of memory, internal error) is not a bad edit: let it through. */
    private static void fatalOr(Throwable e) {
        if (e instanceof VirtualMachineError vm) {
            throw vm;
        }
    }

    private List<RouteDefinition> parse(Resource resource, List<String> templates) throws Exception {
        try (DefaultCamelContext scratch = new DefaultCamelContext()) {
            RoutesLoader scratchLoader = PluginHelper.getRoutesLoader(scratch);
            scratchLoader.loadRoutes(resource);
            List<RouteDefinition> defs = new ArrayList<>(scratch.getRouteDefinitions());
            scratch.getRouteTemplateDefinitions().forEach(t -> templates.add(t.getId()));
            for (RouteDefinition def : defs) {
                if (!def.hasCustomIdAssigned()) {
                    throw new IllegalArgumentException("every route needs an explicit id (reload replaces routes by id)");
                }
            }
            return defs;
        }
    }

    private void restore(ModelCamelContext model, List<RouteDefinition> fresh, Map<String, RouteDefinition> previous,
                         List<String> templates, List<RouteTemplateDefinition> previousTemplates) {
        for (RouteDefinition def : fresh) {
            try {
                if (context.getRoute(def.getRouteId()) != null) {
                    context.getRouteController().stopRoute(def.getRouteId());
                    context.removeRoute(def.getRouteId());
                }
            } catch (Exception e) {
                LOG.warn("Could not remove half-started route {}: {}", def.getRouteId(), rootMessage(e));
            }
        }
        try {
            model.addRouteDefinitions(new ArrayList<>(previous.values()));
        } catch (Exception e) {
            LOG.error("Could not restore the previous routes {}: {}", previous.keySet(), rootMessage(e));
        }
        if (templates.isEmpty()) {
            return;
        }
        try {
            for (String template : templates) {
                model.removeRouteTemplateDefinitions(template);
            }
            model.addRouteTemplateDefinitions(previousTemplates);
            templatesChanged.run(); // the routes stamped from the new template, again from the old one
        } catch (Exception | Error e) {
            fatalOr(e);
            LOG.error("Could not restore the previous template(s) {}: {}", templates, rootMessage(e));
        }
    }

    private static String describe(Throwable e) {
        return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + firstLine(e.getMessage()));
    }

    private static String firstLine(String message) {
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return describe(t);
    }
}
