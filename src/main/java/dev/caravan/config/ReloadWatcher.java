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
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
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
 */
public final class ReloadWatcher {

    private static final Logger LOG = LoggerFactory.getLogger(ReloadWatcher.class);
    private static final long SETTLE_MILLIS = 150; // editors write a file in several steps

    private final CamelContext context;
    private final ConfigHolder config;
    private final ConfigLoader loader;
    private final Path configFile;
    private final Path routesDir;
    /** Counts each reload by kind and outcome (caravan_config_reload_total); config knows no metrics library. */
    private final java.util.function.BiConsumer<String, Boolean> metrics;
    private final Runnable templatesChanged;
    private final List<ConfigReloads> configReloads = new java.util.concurrent.CopyOnWriteArrayList<>();
    private WatchService watchService;
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

    public void start() {
        try {
            watchService = FileSystems.getDefault().newWatchService();
            Set<Path> dirs = new LinkedHashSet<>(List.of(configFile.getParent(), routesDir));
            for (Path dir : dirs) {
                dir.register(watchService, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY);
            }
        } catch (IOException e) {
            LOG.warn("Hot reload is off: cannot watch {} and {}: {}", configFile, routesDir, e.getMessage());
            return;
        }
        thread = new Thread(this::run, "caravan-reload");
        thread.setDaemon(true);
        thread.start();
        LOG.info("Watching {} and {}/*.camel.yaml for changes", configFile, routesDir);
    }

    public void stop() {
        try {
            if (watchService != null) {
                watchService.close();
            }
        } catch (IOException ignored) {
            // closing only
        }
    }

    private void run() {
        while (true) {
            try {
                WatchKey key = watchService.take();
                Set<Path> changed = new LinkedHashSet<>();
                collect(key, changed);
                // let a burst of writes settle into one reload
                WatchKey more;
                while ((more = watchService.poll(SETTLE_MILLIS, TimeUnit.MILLISECONDS)) != null) {
                    collect(more, changed);
                }
                for (Path file : changed) {
                    reload(file);
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

    private void reload(Path file) {
        if (file.equals(configFile)) {
            reloadConfig();
        } else if (routesDir.equals(file.getParent()) && file.getFileName().toString().endsWith(".camel.yaml")
                && Files.isRegularFile(file)) {
            reloadRoutes(file);
        }
    }

    private static void collect(WatchKey key, Set<Path> changed) {
        Path dir = (Path) key.watchable();
        for (WatchEvent<?> event : key.pollEvents()) {
            if (event.context() instanceof Path p) {
                changed.add(dir.resolve(p).toAbsolutePath().normalize());
            }
        }
        key.reset();
    }

    /**
     * Loads and validates the config file, then swaps it in; the running config stays unless both succeed. Any
     * failure, whatever it is, refuses the edit: one log line, the failure counted, the watcher carries on.
     */
    public boolean reloadConfig() {
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
