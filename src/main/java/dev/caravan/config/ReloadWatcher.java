package dev.caravan.config;

import dev.caravan.observe.GatewayMetrics;
import org.apache.camel.CamelContext;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.model.ModelCamelContext;
import org.apache.camel.model.RouteDefinition;
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
    private final GatewayMetrics metrics;
    private final Runnable templatesChanged;
    private WatchService watchService;
    private Thread thread;

    public ReloadWatcher(CamelContext context, ConfigHolder config, ConfigLoader loader, Path configFile, Path routesDir,
                         GatewayMetrics metrics, Runnable templatesChanged) {
        this.context = context;
        this.config = config;
        this.loader = loader;
        this.configFile = configFile.toAbsolutePath().normalize();
        this.routesDir = routesDir.toAbsolutePath().normalize();
        this.metrics = metrics;
        this.templatesChanged = templatesChanged;
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
        try {
            while (true) {
                WatchKey key = watchService.take();
                Set<Path> changed = new LinkedHashSet<>();
                collect(key, changed);
                // let a burst of writes settle into one reload
                WatchKey more;
                while ((more = watchService.poll(SETTLE_MILLIS, TimeUnit.MILLISECONDS)) != null) {
                    collect(more, changed);
                }
                for (Path file : changed) {
                    if (file.equals(configFile)) {
                        reloadConfig();
                    } else if (file.getParent().equals(routesDir) && file.getFileName().toString().endsWith(".camel.yaml")
                            && Files.isRegularFile(file)) {
                        reloadRoutes(file);
                    }
                }
            }
        } catch (InterruptedException | ClosedWatchServiceException e) {
            // stopping
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

    /** Loads and validates the config file; the running config stays unless the new one is valid. */
    public boolean reloadConfig() {
        try {
            GatewayConfig next = loader.load(configFile);
            config.replace(next);
            metrics.configReload("config", true);
            LOG.info("Reloaded {}: {} model(s), {} provider(s), {} key(s)", configFile.getFileName(),
                    next.models().size(), next.providers().size(), next.keysBySha256().size());
            return true;
        } catch (ConfigException e) {
            metrics.configReload("config", false);
            LOG.warn("Refused to reload {}; the previous config keeps serving. {}", configFile.getFileName(), e.getMessage());
            return false;
        }
    }

    /** Validates one route file, then replaces the routes it defines; on failure the old ones come back. */
    public boolean reloadRoutes(Path file) {
        String name = file.getFileName().toString();
        Resource resource = ResourceHelper.resolveResource(context, "file:" + file);
        List<RouteDefinition> fresh;
        List<String> templates = new ArrayList<>();
        try {
            fresh = parse(resource, templates);
        } catch (Exception e) {
            metrics.configReload("routes", false);
            LOG.warn("Refused to reload {}; its routes keep serving as they were. {}", name, rootMessage(e));
            return false;
        }
        ModelCamelContext model = (ModelCamelContext) context;
        Map<String, RouteDefinition> previous = new LinkedHashMap<>();
        for (RouteDefinition def : fresh) {
            RouteDefinition old = model.getRouteDefinition(def.getRouteId());
            if (old != null) {
                previous.put(def.getRouteId(), old);
            }
        }
        try {
            // Camel appends reloaded templates after the old ones and keeps using the first: drop the old first
            for (String template : templates) {
                model.removeRouteTemplateDefinitions(template);
            }
            Set<String> updated = PluginHelper.getRoutesLoader(context).updateRoutes(List.of(resource));
            if (!templates.isEmpty()) {
                templatesChanged.run();
            }
            metrics.configReload("routes", true);
            LOG.info("Reloaded {}: route(s) {}{}", name, updated, templates.isEmpty() ? "" : ", template(s) " + templates);
            return true;
        } catch (Exception e) {
            metrics.configReload("routes", false);
            LOG.warn("Refused to reload {}: its routes failed to start ({}); restoring the previous ones", name, rootMessage(e));
            restore(model, fresh, previous);
            return false;
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

    private void restore(ModelCamelContext model, List<RouteDefinition> fresh, Map<String, RouteDefinition> previous) {
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
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }
}
