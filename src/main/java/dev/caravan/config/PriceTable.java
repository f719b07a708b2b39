package dev.caravan.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * The default prices (config/prices.yaml, shipped in the jar too): USD per million input, cached-input and output
 * tokens by upstream model name, for deployments whose config names no {@code price}. A model name matches its own
 * entry, else the longest entry it starts with ({@code gpt-4o-mini-2024-07-18} takes {@code gpt-4o-mini}'s price).
 */
public final class PriceTable {

    public static final String FILE_NAME = "prices.yaml";
    private static final PriceTable SHIPPED = read(PriceTable.class.getResourceAsStream("/caravan/" + FILE_NAME), "shipped");

    private final TreeMap<String, DeploymentConfig.Price> byModel;
    private final String checked;

    private PriceTable(TreeMap<String, DeploymentConfig.Price> byModel, String checked) {
        this.byModel = byModel;
        this.checked = checked;
    }

    public static PriceTable shipped() {
        return SHIPPED;
    }

    /** A prices.yaml an operator placed beside gateway.yaml; unreadable or malformed: the shipped table. */
    static PriceTable load(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return read(in, file.toString());
        } catch (IOException | RuntimeException e) {
            org.slf4j.LoggerFactory.getLogger(PriceTable.class)
                    .warn("Cannot read {} ({}); using the shipped price table", file, e.toString());
            return SHIPPED;
        }
    }

    private static PriceTable read(InputStream in, String source) {
        if (in == null) {
            return new PriceTable(new TreeMap<>(), "never");
        }
        try (in) {
            JsonNode root = new ObjectMapper(new YAMLFactory()).readTree(in);
            TreeMap<String, DeploymentConfig.Price> byModel = new TreeMap<>();
            for (Map.Entry<String, JsonNode> e : (Iterable<Map.Entry<String, JsonNode>>) () -> root.path("prices").fields()) {
                JsonNode p = e.getValue();
                double input = p.path("input").asDouble(0);
                byModel.put(e.getKey(), new DeploymentConfig.Price(input, p.path("output").asDouble(0),
                        p.path("cachedInput").asDouble(input), FILE_NAME));
            }
            return new PriceTable(byModel, root.path("checked").asText("unknown"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the price table " + source, e);
        }
    }

    /** The price for an upstream model name, or null when the table has none. */
    public DeploymentConfig.Price priceOf(String model) {
        DeploymentConfig.Price exact = byModel.get(model);
        if (exact != null) {
            return exact;
        }
        // the longest entry that is a prefix of the name: walk down from the greatest key <= name
        for (String k = byModel.floorKey(model); k != null; k = byModel.lowerKey(k)) {
            if (model.startsWith(k)) {
                return byModel.get(k);
            }
            if (k.isEmpty() || k.charAt(0) != model.charAt(0)) {
                break;
            }
        }
        return null;
    }

    /** The date the table was checked against the providers' price pages. */
    public String checked() {
        return checked;
    }
}
