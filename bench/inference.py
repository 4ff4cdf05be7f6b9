r"""Serving latency and throughput of the recipes' exported SavedModels.

    python -m bench.inference [--export_root=saved_models] [--quick] \
        [--output=bench/results/inference.json]

Every recipe folder under `--export_root` (TensorFlow Serving layout,
`<export_root>/<recipe>/<version>/`) is measured at its latest version.
The SavedModel is loaded with `tf.saved_model.load`, as a server would:
no zoo code runs, and each signature is called as a concrete function
with keyword tensors. The signatures timed are:

| recipe    | signature          | what it does                             |
|-----------|--------------------|------------------------------------------|
| mnist_rnn | `serving_default`  | uint8 images `[N, 28, 28]` -> classes    |
| sentiment | `serving_default`  | text `[N]` -> labels                     |
| tagger    | `serving_default`  | tokens `[N, T]` -> tags                  |
| tagger    | `tag_text`         | text `[N]` -> tokens and tags            |
| translate | `translate_greedy` | greedy decoding (with attention weights) |
| translate | `serving_default`  | beam search, of the width the model was  |
|           |                    | exported with (`--beam_width`, 5 in the  |
|           |                    | presets; the export does not record it)  |
| poetry    | `serving_default`  | `generate`: a continuation of a prompt   |
| poetry    | `score`            | bits per character of a text             |
| poetry    | `compose`          | a poem (poem models only)                |

`serving_float` (mnist_rnn) is `serving_default` without the uint8
conversion and `generate` (poetry) is `serving_default`, so they are not
timed again. A signature an export lacks (`compose` of a model of
running text) is skipped; an export without `serving_default` is an
error.

Inputs are built from each signature's input specs: random uint8
pixels (a fixed seed; the cost of a recurrent network does not depend on
them), a fixed list of English sentences (`ENGLISH`; the tagger's tokens
are these sentences split into words and punctuation), Tang poem lines
for poetry (`PROMPTS`, `POEMS`, `ACROSTICS`), repeated to the batch
size. The translator presets read English; a model of another source
language reads the sentences as unknown words. Scalar inputs get the fixed values of `SETTINGS` (the longest
continuation of `generate`, the sampling temperature, top-k and seed, the
poem form of `compose`). Decoding stops early when every row has ended,
so decoders' times depend on the model as much as on its size.

Latency: `--calls` calls at batch 1 after `WARMUP` warm-up calls, the
sentences (or images) taken in turn; p50 and p99 of the wall time of a
call, outputs copied to numpy. Throughput: `--repeats` calls at batch
256 after one warm-up call; the median of examples per second. Calls run
one after the other, each using all the cores TensorFlow finds.

Portable models (`--export_formats=onnx,litert`: a version holding
`portable.json`) are timed beside the SavedModel, in ONNX Runtime and
in the LiteRT interpreter, through `zoo.portable.decoding`'s runners (no
TensorFlow in those calls): mnist_rnn, sentiment and tagger's `model`,
translate's in-model `greedy` loop and beam search in the client loop
(`translate_ids`), poetry's sampled continuation in the client loop
(`generate_ids`, `SETTINGS`). They take ids: the texts are made into ids
by `zoo.portable.text` before timing (the SavedModel's rows include its
string processing). LiteRT's batch is 1, so its batch-256 call is 256
calls in turn. Each row also has the files' size (the SavedModel's
`saved_model.pb` and `variables/`; the runtime's model files) and the
seconds to load them (`tf.saved_model.load`, or every session or
interpreter). `--runtimes` picks the runtimes; one whose package is not
installed is skipped with a warning.

`--quick` makes few calls (5 at batch 1, 2 at batch 256, one warm-up
each): a smoke run, not a measurement. The results
are printed as a markdown table and written as JSON with the settings
that produced them.
"""

import json
import os
import statistics
import time

import numpy as np
import tensorflow as tf
from absl import app
from absl import flags
from absl import logging

import bench
from zoo import export
from zoo.portable import decoding
from zoo.portable import text as portable_text
# The inputs: the texts the tests' tiny exports were fit on.
from zoo.testing.exports import ENGLISH
from zoo.testing.exports import POEMS
from zoo.testing.exports import words



def define_flags(flag_values=flags.FLAGS):
    """Defines the program's flags into `flag_values`.

    Importing this module defines none, so it can be imported beside the
    other benchmarks, whose flags share these names.
    """
    into = dict(flag_values=flag_values)
    flags.DEFINE_string(
        "export_root", "saved_models",
        "Folder of recipe exports, <export_root>/<recipe>/<version>/; every "
        "recipe folder found is measured at its latest version.", **into)
    flags.DEFINE_boolean("quick", False, "Few calls, whatever --calls and "
                         "--repeats say: a smoke run.", **into)
    flags.DEFINE_integer("calls", 100, "Timed batch-1 calls per signature "
                         "(after warm-up).", lower_bound=1, **into)
    flags.DEFINE_integer("repeats", 10, "Timed batch-256 calls per "
                         "signature (after one warm-up).", lower_bound=1,
                         **into)
    flags.DEFINE_list("runtimes", list(RUNTIMES), "Runtimes to time: "
                      f"{', '.join(RUNTIMES)}.", **into)
    flags.DEFINE_string("output", "bench/results/inference.json",
                        "Where the JSON results go.", **into)


LATENCY_BATCH, THROUGHPUT_BATCH = 1, 256
WARMUP = 3  # Batch-1 calls before timing; one batch-256 call too.
QUICK_CALLS, QUICK_REPEATS, QUICK_WARMUP = 5, 2, 1

# Signatures timed per recipe, each with what it does (for the table).
SIGNATURES = {
    "mnist_rnn": {"serving_default": "uint8 images"},
    "sentiment": {"serving_default": "text"},
    "tagger": {"serving_default": "tokens", "tag_text": "text"},
    "translate": {"translate_greedy": "greedy",
                  "serving_default": "beam search"},
    "poetry": {"serving_default": "generate", "score": "bits per character",
               "compose": "poem"},
}
RECIPES = tuple(SIGNATURES)
# The SavedModel's runtime, then the portable formats' (module to import).
RUNTIMES = ("tensorflow", "onnxruntime", "litert")
PORTABLE_RUNTIMES = {"onnxruntime": ("onnx", "onnxruntime"),
                     "litert": ("litert", "ai_edge_litert")}
# What each recipe's portable models are timed on, as the SavedModel
# signature whose work they do.
PORTABLE = {
    "mnist_rnn": {"serving_default": "uint8 images"},
    "sentiment": {"serving_default": "ids"},
    "tagger": {"serving_default": "ids"},
    "translate": {"translate_greedy": "greedy, in the model",
                  "serving_default": "beam search, client loop"},
    "poetry": {"serving_default": "generate, client loop"},
}

# Scalar inputs: poetry's generate (max_length: characters continued) and
# compose (a quatrain of 5-character lines); both sample with these.
SETTINGS = {"max_length": 64, "temperature": 0.8, "top_k": 0, "seed": 0,
            "characters": 5, "lines": 4}
PROMPTS = ("床前明月光", "春眠不觉晓", "白日依山尽", "千山鸟飞绝")
ACROSTICS = ("春夏秋冬", "明月", "山水", "")
IMAGE_SHAPE = (28, 28)


def percentile(values, q):
    """The `q`-th percentile (0-100) of `values`, linear between ranks.

    The value at rank `q / 100 * (n - 1)` of the sorted values (rank 0
    the smallest), interpolated between the two nearest ones; what
    `numpy.percentile` computes by default.
    """
    if not values:
        raise ValueError("Received no values to take a percentile of")
    if not 0 <= q <= 100:
        raise ValueError(f"Received an invalid percentile {q!r}, expected a "
                         "number from 0 to 100")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def examples_per_second(examples, seconds):
    return examples / seconds


def summarize(latency_seconds, throughput_seconds, batch=THROUGHPUT_BATCH):
    """p50 and p99 latency (ms) and the median examples/s of the repeats."""
    return {
        "p50_ms": percentile(latency_seconds, 50) * 1e3,
        "p99_ms": percentile(latency_seconds, 99) * 1e3,
        "examples_per_second": statistics.median(
            examples_per_second(batch, s) for s in throughput_seconds),
    }


def find_exports(export_root):
    """`{recipe: latest version folder}` of the recipe folders under it.

    Raises:
        ValueError: `export_root` is not a folder, holds a folder that is
            not a recipe's, or holds no export at all.
    """
    if not os.path.isdir(export_root):
        raise ValueError(f"--export_root={export_root} is not a folder")
    found = {}
    for name in sorted(os.listdir(export_root)):
        folder = os.path.join(export_root, name)
        if name.startswith(".") or not os.path.isdir(folder):
            continue  # README.md and the like.
        if name not in RECIPES:
            hint = ""
            if name.isdigit():
                hint = (f"; {export_root} looks like one recipe's folder of "
                        "versions: pass the folder above it")
            raise ValueError(
                f"Unknown recipe folder {folder}: expected folders named "
                f"after recipes, one of {', '.join(RECIPES)}{hint}")
        numbers = export.versions(folder)
        if not numbers:
            logging.warning("%s holds no version folder; skipped", folder)
            continue
        found[name] = os.path.join(folder, str(numbers[-1]))
    if not found:
        raise ValueError(
            f"No recipe exports under --export_root={export_root}: expected "
            "<recipe>/<version>/ folders (e.g. mnist_rnn/1/), which "
            "`python -m zoo.recipes.<recipe>` writes")
    return {recipe: found[recipe] for recipe in RECIPES if recipe in found}


def input_specs(signature):
    """`{input name: tf.TensorSpec}` of a loaded signature."""
    return dict(signature.structured_input_signature[1])


def _rows(values, batch, offset):
    return [values[(offset + i) % len(values)] for i in range(batch)]


def _strings(recipe, name):
    if recipe == "poetry":
        lists = {"prompt": PROMPTS, "text": POEMS, "acrostic": ACROSTICS}
    else:
        lists = {"text": ENGLISH}
    return lists.get(name)


def build_input(recipe, signature_name, name, spec, batch, offset=0):
    """One input tensor of `batch` rows (starting at row `offset` of the
    fixed texts or images) for the input `name` with `spec`.

    Raises:
        ValueError: No value is known for that input.
    """
    if spec.shape.rank == 0 and name in SETTINGS:
        return tf.constant(SETTINGS[name], spec.dtype)
    if name == "images" and spec.shape[1:] == IMAGE_SHAPE:
        rng = np.random.default_rng(offset)
        images = rng.integers(0, 256, size=(batch, *IMAGE_SHAPE))
        if spec.dtype == tf.uint8:
            return tf.constant(images, tf.uint8)
        if spec.dtype.is_floating:
            return tf.constant(images / 255.0, spec.dtype)  # In [0, 1].
    if spec.dtype == tf.string and spec.shape.rank == 1:
        texts = _strings(recipe, name)
        if texts is not None:
            return tf.constant(_rows(texts, batch, offset))
    if name == "tokens" and spec.dtype == tf.string and spec.shape.rank == 2:
        tokens = [words(s) for s in _rows(ENGLISH, batch, offset)]
        width = max(len(t) for t in tokens)
        return tf.constant([t + [""] * (width - len(t)) for t in tokens])
    raise ValueError(
        f"No input is known for `{name}` ({spec.dtype.name} "
        f"{spec.shape}) of the {recipe} signature {signature_name}")


def build_inputs(recipe, signature_name, specs, batch, offset=0):
    """Keyword tensors for a signature with input `specs` (`input_specs`)."""
    return {name: build_input(recipe, signature_name, name, spec, batch,
                              offset)
            for name, spec in specs.items()}


def signatures_to_time(recipe, loaded, path):
    """The names of the signatures of `loaded` to time, in table order."""
    if "serving_default" not in loaded.signatures:
        raise ValueError(
            f"{path} has no serving_default signature; it has "
            f"{', '.join(sorted(loaded.signatures)) or 'none'}")
    return [name for name in SIGNATURES[recipe] if name in loaded.signatures]


def call_seconds(fn, inputs):
    """Wall seconds of one call, its outputs copied to numpy."""
    start = time.perf_counter()
    outputs = fn(**inputs)
    for value in outputs.values():
        value.numpy()
    return time.perf_counter() - start


def measure_signature(recipe, name, fn, calls, repeats, warmup):
    """Latency and throughput of one signature; see the module docstring."""
    specs = input_specs(fn)
    # Inputs are built before timing; batch-1 calls take the rows in turn
    # (as many as there are sentences; poetry's four lists cycle).
    singles = [build_inputs(recipe, name, specs, LATENCY_BATCH, offset=i)
               for i in range(len(ENGLISH))]
    full = build_inputs(recipe, name, specs, THROUGHPUT_BATCH)
    return {
        "inputs": {n: f"{s.dtype.name} {s.shape}" for n, s in specs.items()},
        **time_calls(lambda inputs: call_seconds(fn, inputs), singles, full,
                     calls, repeats, warmup),
    }


def time_calls(seconds, singles, full, calls, repeats, warmup):
    """`summarize` of the wall `seconds(inputs)` of `calls` batch-1 calls
    (the `singles` in turn) after `warmup` ones, and of `repeats` calls of
    the batch `full` after one."""
    for i in range(warmup):
        seconds(singles[i % len(singles)])
    latency = [seconds(singles[i % len(singles)]) for i in range(calls)]
    seconds(full)
    throughput = [seconds(full) for _ in range(repeats)]
    return summarize(latency, throughput)


def folder_bytes(paths):
    """Bytes of the files at `paths` (files, or folders walked)."""
    total = 0
    for path in paths:
        if os.path.isfile(path):
            total += os.path.getsize(path)
        for folder, _, names in os.walk(path):
            total += sum(os.path.getsize(os.path.join(folder, n))
                         for n in names)
    return total


def _texts(recipe, batch, offset):
    if recipe == "poetry":
        return _rows(PROMPTS, batch, offset)
    return _rows(ENGLISH, batch, offset)


def portable_inputs(recipe, tokenizers, batch, offset=0):
    """The ids (or pixels) of `batch` rows for a recipe's portable models,
    made from the SavedModel's inputs by `zoo.portable.text`."""
    if recipe == "mnist_rnn":
        images = np.random.default_rng(offset).integers(
            0, 256, size=(batch, *IMAGE_SHAPE))
        return {"images": images.astype(np.uint8)}
    texts = _texts(recipe, batch, offset)
    if recipe == "tagger":
        rows = [words(s) for s in texts]
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        makers = {"word_ids": portable_text.TokenIds,
                  "char_ids": portable_text.TokenCharIds}
        return {name: np.array(makers[name].from_config(config)(rows),
                               np.int64)
                for name, config in tokenizers.items()}
    if recipe == "poetry":
        characters = portable_text.TextIds.from_config(
            tokenizers["characters"])
        return {"prompt_ids": [[characters.lookup(c)
                                for c in characters.tokens(t)]
                               for t in texts]}
    return {name: np.array(portable_text.TextIds.from_config(config)(texts),
                           np.int64)
            for name, config in tokenizers.items()}


def load_portable(recipe, path, runtime):
    """`{name: fn(inputs) -> outputs}` of a version's portable models in
    `runtime` (see `PORTABLE`), and their files' paths."""
    form = PORTABLE_RUNTIMES[runtime][0]
    with open(os.path.join(path, "portable.json"), encoding="utf-8") as f:
        described = json.load(f)
    if form not in described["formats"]:
        return None, []
    files = [os.path.join(path, m["files"][form])
             for m in described["models"].values()]
    loaded = decoding.Export(path, form)
    if recipe == "translate":
        fns = {"translate_greedy":
               lambda inputs: loaded.models["greedy"](**inputs),
               "serving_default": lambda inputs: decoding.translate_ids(
                   loaded, inputs["source_ids"])}
    elif recipe == "poetry":
        fns = {"serving_default": lambda inputs: decoding.generate_ids(
            loaded, inputs["prompt_ids"], SETTINGS["max_length"],
            SETTINGS["temperature"], SETTINGS["top_k"], seed=SETTINGS["seed"])}
    else:
        fns = {"serving_default":
               lambda inputs: loaded.models["model"](**inputs)}
    return fns, files


def measure(exports, calls, repeats, warmup, runtimes=RUNTIMES):
    """One result dict per recipe signature of `exports` (`find_exports`)
    and runtime of `runtimes`."""
    results = []
    for recipe, path in exports.items():
        version = int(os.path.basename(path))
        if "tensorflow" in runtimes:
            logging.info("Loading %s", path)
            start = time.perf_counter()
            loaded = tf.saved_model.load(path)
            load = time.perf_counter() - start
            size = folder_bytes([os.path.join(path, "saved_model.pb"),
                                 os.path.join(path, "variables")])
            for name in signatures_to_time(recipe, loaded, path):
                logging.info("Timing %s %s", recipe, name)
                results.append({
                    "recipe": recipe, "version": version, "signature": name,
                    "what": SIGNATURES[recipe][name],
                    "runtime": "tensorflow", "size_bytes": size,
                    "load_seconds": load,
                    **measure_signature(recipe, name, loaded.signatures[name],
                                        calls, repeats, warmup),
                })
            del loaded
        if not os.path.exists(os.path.join(path, "portable.json")):
            continue
        for runtime in runtimes:
            if runtime == "tensorflow":
                continue
            results.extend(measure_portable(recipe, path, runtime, calls,
                                            repeats, warmup))
    return results


def measure_portable(recipe, path, runtime, calls, repeats, warmup):
    """Result dicts of a version's portable models in `runtime`."""
    start = time.perf_counter()
    fns, files = load_portable(recipe, path, runtime)
    load = time.perf_counter() - start
    if fns is None:
        logging.warning("%s has no %s models; skipped", path, runtime)
        return []
    tokenizers = {}  # mnist_rnn's take pixels.
    if os.path.exists(os.path.join(path, "tokenizers.json")):
        with open(os.path.join(path, "tokenizers.json"),
                  encoding="utf-8") as f:
            tokenizers = json.load(f)
    singles = [portable_inputs(recipe, tokenizers, LATENCY_BATCH, offset=i)
               for i in range(len(ENGLISH))]
    full = portable_inputs(recipe, tokenizers, THROUGHPUT_BATCH)
    results = []
    for name, fn in fns.items():
        logging.info("Timing %s %s in %s", recipe, name, runtime)

        def seconds(inputs):
            begin = time.perf_counter()
            fn(inputs)
            return time.perf_counter() - begin

        results.append({
            "recipe": recipe, "version": int(os.path.basename(path)),
            "signature": name, "what": PORTABLE[recipe][name],
            "runtime": runtime, "size_bytes": folder_bytes(files),
            "load_seconds": load,
            "inputs": {k: f"{np.asarray(v).dtype} {np.shape(v)}"
                       for k, v in singles[0].items()},
            **time_calls(seconds, singles, full, calls, repeats, warmup),
        })
    return results


def available_runtimes(names):
    """The runtimes of `names` whose packages import here (a warning for
    each that does not)."""
    import importlib.util

    found = []
    for name in names:
        if name not in RUNTIMES:
            raise ValueError(f"--runtimes: unknown runtime {name!r}, expected "
                             f"some of {', '.join(RUNTIMES)}")
        module = PORTABLE_RUNTIMES.get(name, (None, "tensorflow"))[1]
        if importlib.util.find_spec(module) is None:
            logging.warning("--runtimes: %s is not installed (pip install "
                            "'.[export]'); skipped", module)
            continue
        found.append(name)
    return found


def table(results):
    lines = ["| recipe | signature | runtime | MB | load s | p50 ms | p99 ms "
             f"| batch-{THROUGHPUT_BATCH} examples/s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['recipe']} | {r['signature']} ({r['what']}) | "
                     f"{r['runtime']} | {r['size_bytes'] / 1e6:.2f} | "
                     f"{r['load_seconds']:.2f} | "
                     f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                     f"{r['examples_per_second']:.0f} |")
    return "\n".join(lines)


def main(argv, flag_values=flags.FLAGS):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    export_root, output = flag_values.export_root, flag_values.output
    try:
        exports = find_exports(export_root)
        runtimes = available_runtimes(flag_values.runtimes)
    except ValueError as e:
        raise app.UsageError(str(e)) from e
    quick = flag_values.quick
    calls = QUICK_CALLS if quick else flag_values.calls
    repeats = QUICK_REPEATS if quick else flag_values.repeats
    warmup = QUICK_WARMUP if quick else WARMUP
    results = measure(exports, calls, repeats, warmup, runtimes)
    payload = {
        "export_root": export_root,
        "exports": exports,
        "quick": quick,
        "calls": calls,
        "repeats": repeats,
        "warmup": warmup,
        "runtimes": runtimes,
        "latency_batch": LATENCY_BATCH,
        "throughput_batch": THROUGHPUT_BATCH,
        "settings": SETTINGS,
        "tensorflow": tf.__version__,
        "cpus": os.cpu_count(),
        "results": results,
    }
    print(table(results))
    bench.write_json(payload, output)


if __name__ == "__main__":
    define_flags()
    app.run(main)
