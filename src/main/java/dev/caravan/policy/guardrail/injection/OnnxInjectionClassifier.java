package dev.caravan.policy.guardrail.injection;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.caravan.work.CpuPool;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Optional: a sequence-classification model the operator supplies (an ONNX export of a prompt-injection classifier,
 * e.g. a DeBERTa fine-tune, with its {@code tokenizer.json}), giving P(injection) for a text. Nothing is downloaded:
 * both files are read from the paths given, and the runtimes are the ONNX Runtime and HuggingFace tokenizer jars the
 * MiniLM embedder already brings. Not required by {@link InjectionDetector}; a caller that has one may combine the
 * two verdicts.
 *
 * <p><b>Loading</b> is eager, at construction (the operator asked for it: a wrong path or a model that is not a
 * classifier fails at start, with the path in the message), on the calling thread. The model must take
 * {@code input_ids} (and, if it declares them, {@code attention_mask} and {@code token_type_ids}) and have a first
 * output of shape {@code [batch, labels]}, labels at least 2; softmax over it, {@code injectionLabel} is the index of
 * the injection class (1 in the common SAFE/INJECTION exports).
 *
 * <p><b>Running</b>: every classification runs on the {@link CpuPool}, one ONNX intra-op thread, no spinning (see
 * {@code MiniLmEmbedder} for the measurements behind that). Texts are cut into the same windows as the semantic
 * detector ({@link Windows}, at most {@value Windows#MAX_WINDOWS} per request), and each window is truncated to
 * {@code maxTokens} tokens. Untested here against a real injection model: none can be fetched on this machine; the
 * tests run a tiny hand-built ONNX classifier.
 */
public final class OnnxInjectionClassifier implements AutoCloseable {

    /** Tokens per window: DeBERTa and BERT classifiers take 512. */
    public static final int DEFAULT_MAX_TOKENS = 512;

    private final CpuPool cpu;
    private final int injectionLabel;
    private final OrtEnvironment environment;
    private final OrtSession session;
    private final HuggingFaceTokenizer tokenizer;
    private final boolean wantsMask;
    private final boolean wantsTypes;
    private final String output;
    // classifications hold the read side, close the write side: the native session is never freed under a running one
    private final ReentrantReadWriteLock life = new ReentrantReadWriteLock();
    private boolean closed;

    /** With the injection class at index 1 and {@link #DEFAULT_MAX_TOKENS}. */
    public OnnxInjectionClassifier(Path model, Path tokenizer, CpuPool cpu) {
        this(model, tokenizer, 1, DEFAULT_MAX_TOKENS, cpu);
    }

    /**
     * @param model          the {@code .onnx} file
     * @param tokenizer      its {@code tokenizer.json}
     * @param injectionLabel the index of the injection class among the model's outputs
     * @param maxTokens      tokens per window; longer windows are truncated
     * @throws IllegalArgumentException a file is missing or unreadable, or the model is not a sequence classifier
     */
    public OnnxInjectionClassifier(Path model, Path tokenizer, int injectionLabel, int maxTokens, CpuPool cpu) {
        requireFile(model, "model");
        requireFile(tokenizer, "tokenizer");
        this.cpu = cpu;
        this.injectionLabel = injectionLabel;
        setIfUnset("ai.djl.offline", "DJL_OFFLINE", "true"); // as MiniLmEmbedder: a library must not phone home
        setIfUnset("OPT_OUT_TRACKING", "OPT_OUT_TRACKING", "true");
        this.environment = OrtEnvironment.getEnvironment();
        OrtSession opened = null;
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            options.setInterOpNumThreads(1);
            options.addConfigEntry("session.intra_op.allow_spinning", "0");
            opened = environment.createSession(model.toString(), options);
            this.output = classifierOutput(opened, model, injectionLabel);
            if (!opened.getInputNames().contains("input_ids")) {
                throw new IllegalArgumentException("injection classifier " + model + " has no input_ids input (it has "
                        + opened.getInputNames() + "): not a sequence-classification model");
            }
            this.wantsMask = opened.getInputNames().contains("attention_mask");
            this.wantsTypes = opened.getInputNames().contains("token_type_ids");
            this.tokenizer = HuggingFaceTokenizer.builder().optTokenizerPath(tokenizer).optTruncation(true)
                    .optPadding(false).optMaxLength(maxTokens).build();
            this.session = opened;
        } catch (OrtException e) {
            close(opened);
            throw new IllegalArgumentException("cannot open the injection classifier " + model + ": " + e.getMessage(), e);
        } catch (IOException e) {
            close(opened);
            throw new IllegalArgumentException("cannot read the injection classifier's tokenizer " + tokenizer + ": "
                    + e.getMessage(), e);
        } catch (RuntimeException | LinkageError e) {
            close(opened);
            throw e;
        }
    }

    /** P(injection) for {@code text}, computed on the CPU pool. */
    public CompletionStage<Double> probability(String text) {
        return cpu.submit(() -> probabilityHere(text));
    }

    /**
     * The highest P(injection) over the windows of {@code texts}: an attack (reason {@code classifier}) when it
     * reaches {@code threshold}. Empty input is clean at once.
     */
    public CompletionStage<InjectionDetector.Verdict> check(List<String> texts, double threshold) {
        List<String> windows = texts == null ? List.of() : Windows.of(texts);
        if (windows.isEmpty()) {
            return CompletableFuture.completedFuture(new InjectionDetector.Verdict(false, 0, null));
        }
        List<CompletableFuture<Double>> each = new ArrayList<>(windows.size());
        for (String w : windows) {
            each.add(cpu.submit(() -> probabilityHere(w)));
        }
        return CompletableFuture.allOf(each.toArray(CompletableFuture[]::new)).thenApply(done -> {
            double p = each.stream().mapToDouble(CompletableFuture::join).max().orElse(0);
            return p >= threshold ? new InjectionDetector.Verdict(true, p, "classifier") : new InjectionDetector.Verdict(false, p, null);
        });
    }

    /** P(injection) on the calling thread (the CPU pool's task). */
    double probabilityHere(String text) {
        life.readLock().lock();
        try {
            if (closed) {
                throw new IllegalStateException("the injection classifier is closed");
            }
            Encoding encoding = tokenizer.encode(text == null ? "" : text);
            Map<String, OnnxTensor> inputs = new HashMap<>();
            try {
                inputs.put("input_ids", OnnxTensor.createTensor(environment, new long[][] {encoding.getIds()}));
                if (wantsMask) {
                    inputs.put("attention_mask", OnnxTensor.createTensor(environment, new long[][] {encoding.getAttentionMask()}));
                }
                if (wantsTypes) {
                    inputs.put("token_type_ids", OnnxTensor.createTensor(environment, new long[][] {encoding.getTypeIds()}));
                }
                try (OrtSession.Result result = session.run(inputs)) {
                    float[][] logits = (float[][]) result.get(output).orElseThrow().getValue();
                    return softmax(logits[0])[injectionLabel];
                }
            } finally {
                inputs.values().forEach(OnnxTensor::close);
            }
        } catch (OrtException e) {
            throw new IllegalStateException("the injection classifier failed: " + e.getMessage(), e);
        } finally {
            life.readLock().unlock();
        }
    }

    static double[] softmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        double[] p = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            p[i] = Math.exp(logits[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    /** The first output, checked to be {@code [batch, labels]} with the injection label among the labels. */
    private static String classifierOutput(OrtSession session, Path model, int injectionLabel) throws OrtException {
        Map.Entry<String, NodeInfo> first = session.getOutputInfo().entrySet().iterator().next();
        long[] shape = first.getValue().getInfo() instanceof TensorInfo t ? t.getShape() : new long[0];
        boolean classifier = shape.length == 2 && (shape[1] < 0 || shape[1] > Math.max(1, injectionLabel));
        if (!classifier) {
            throw new IllegalArgumentException("injection classifier " + model + " is not a sequence-classification model: "
                    + "its output " + first.getKey() + " has shape " + java.util.Arrays.toString(shape)
                    + ", expected [batch, labels] with label " + injectionLabel + " among them");
        }
        return first.getKey();
    }

    private static void requireFile(Path path, String what) {
        if (path == null) {
            throw new IllegalArgumentException("injection classifier " + what + " path is not set");
        }
        if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
            throw new IllegalArgumentException("injection classifier " + what + " not found or not readable: "
                    + path.toAbsolutePath());
        }
    }

    private static void setIfUnset(String property, String env, String value) {
        if (System.getProperty(property) == null && System.getenv(env) == null) {
            System.setProperty(property, value);
        }
    }

    private static void close(OrtSession session) {
        if (session != null) {
            try {
                session.close();
            } catch (OrtException ignored) {
                // failing at start: the failure that matters is being thrown
            }
        }
    }

    /** Waits for running classifications, then frees the session and the tokenizer; later calls fail. */
    @Override
    public void close() {
        life.writeLock().lock();
        try {
            if (!closed) {
                closed = true;
                tokenizer.close();
                session.close();
            }
        } catch (OrtException e) {
            // closing at shutdown: nothing left to do with the failure
        } finally {
            life.writeLock().unlock();
        }
    }
}
