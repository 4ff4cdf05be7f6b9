"""zoo.testing.hostile: the table, and every recipe's signatures against it.

The recipes' tiny exports (`zoo.testing.exports`) are built once; every
hostile case of every signature, and an ordinary call of each signature,
run in one process in which `import zoo` fails (the exports stand alone),
while `saved_model_cli` runs each recipe's `serving_default` and this
process calls the signatures in process, to compare.
"""

import concurrent.futures
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from zoo import testing
from zoo.testing import exports
from zoo.testing import hostile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Every signature of every recipe's export, so none goes untried.
SIGNATURES = {
    "mnist_rnn": ("serving_default", "serving_float"),
    "sentiment": ("serving_default",),
    "tagger": ("serving_default", "tag_text"),
    "translate": ("serving_default", "translate_greedy"),
    "poetry": ("serving_default", "generate", "score", "compose"),
}
SIGNATURE_IDS = [f"{r}/{s}" for r, names in SIGNATURES.items() for s in names]


# The table itself (no export needed).

TEXT = [tf.TensorSpec([None], tf.string, name="text")]


def case_named(cases, name):
    (case,) = [c for c in cases if c.name == name]
    return case


def test_docstring_examples():
    testing.run_docstring_examples(hostile)


def test_specs_come_from_a_list_a_dict_or_a_loaded_signature():
    fn = tf.function(lambda text: {"n": tf.strings.length(text)},
                     input_signature=TEXT)
    concrete = fn.get_concrete_function()
    for given in (TEXT, {"text": TEXT[0]}, concrete):
        assert hostile.input_specs(given) == {"text": TEXT[0]}


def test_cases_fit_the_specs_and_have_distinct_names():
    specs = {
        "prompt": tf.TensorSpec([None], tf.string, name="prompt"),
        "tokens": tf.TensorSpec([None, None], tf.string, name="tokens"),
        "images": tf.TensorSpec([None, 28, 28], tf.float32, name="images"),
        "seed": tf.TensorSpec([], tf.int64, name="seed"),
    }
    cases = hostile.cases(specs)
    assert len({c.name for c in cases}) == len(cases) == hostile.count(
        [specs])
    for case in cases:
        assert case.expect in (hostile.OUTPUT, hostile.ERROR)
        if case.expect == hostile.OUTPUT:
            assert case.pattern is None and case.batch is not None
            assert set(case.inputs) == set(specs), case.name
            for name, value in case.inputs.items():
                assert specs[name].shape.is_compatible_with(value.shape)
                assert value.shape[:1] in ((), (case.batch,)), case.name
        else:
            assert case.pattern and case.batch is None
    empty = case_named(cases, "empty_batch")
    assert [empty.inputs[n].shape for n in sorted(specs)] == [
        (0, 28, 28), (0,), (), (0, 3)]
    # Wrong dtypes are the likeliest mistakes; TensorFlow numbers the
    # inputs in sorted order: images, prompt, seed, tokens.
    wrong = case_named(cases, "seed/wrong_dtype")
    assert wrong.inputs["seed"].dtype == np.int32
    assert wrong.pattern == (r"input #2\(zero-based\) was expected to be a "
                             r"int64 tensor but is a int32 tensor")
    assert case_named(cases, "images/wrong_dtype").inputs[
        "images"].dtype == np.float64
    assert "seed" not in case_named(cases, "seed/missing").inputs
    shape = case_named(cases, "images/wrong_shape")
    assert shape.inputs["images"].shape == (2, 28, 27)
    assert shape.pattern == (r"Shape of tensor images \[2,28,27\] is not "
                             r"compatible with expected shape \[\?,28,28\]")
    nan = case_named(cases, "images/nan").inputs["images"]
    assert np.isnan(nan).sum() == 1 and np.nanmax(nan) <= 1.0
    above = case_named(cases, "images/above_range").inputs["images"]
    assert above.max() == 255.0
    long = case_named(cases, "prompt/over_long")
    assert len(long.inputs["prompt"][0]) == 5 * hostile.LONG_WORDS
    assert case_named(cases, "tokens/no_steps").inputs["tokens"].shape == (
        2, 0)


def test_unknown_inputs_are_refused():
    with pytest.raises(ValueError, match=r"No setting is known for the "
                       r"scalar input `beam_width` \(int32\); known: "
                       r"max_length, temperature"):
        hostile.cases([tf.TensorSpec([], tf.int32, name="beam_width")])
    with pytest.raises(ValueError, match=r"No ordinary value is known for "
                       r"`ids` \(int32 \(None, None\)\)"):
        hostile.cases([tf.TensorSpec([None, None], tf.int32, name="ids")])


def test_problems_names_the_case_and_what_is_wrong():
    cases = hostile.cases(TEXT)
    output = case_named(cases, "text/not_utf8")  # Four rows.
    error = case_named(cases, "text/rank_minus_1")
    good = {"labels": np.array([b"a", b"\xef\xbf\xbd", b"b", b"c"]),
            "scores": np.ones((4, 2), np.float32)}
    assert hostile.problems(output, good) == []
    assert hostile.problems(error, None, "Shape of tensor text [] is not "
                            "compatible with expected shape [?].") == []
    found = hostile.problems(output, {
        "labels": np.array([b"a", b"\xff", b"b", b"c"]),
        "scores": np.full((3, 2), np.nan, np.float32)})
    assert found == [
        "text/not_utf8: output labels holds bytes that are not UTF-8: "
        "b'\\xff'",
        "text/not_utf8: output scores has shape (3, 2), expected 4 rows",
        "text/not_utf8: output scores is not finite",
    ]
    assert hostile.problems(output, None, "Boom")[0].startswith(
        "text/not_utf8: expected outputs, got an error:\nBoom")
    assert hostile.problems(error, good)[0] == (
        f"text/rank_minus_1: expected an error matching {error.pattern!r}, "
        "got outputs ['labels', 'scores']")
    assert hostile.problems(error, None, "Segfault")[0].startswith(
        f"text/rank_minus_1: the error does not match {error.pattern!r}")


# Every recipe's signatures, served without zoo.


def test_an_output_case_without_outputs_is_a_problem():
    case = case_named(hostile.cases(TEXT), "text/empty_strings")
    assert hostile.problems(case, {}) == [
        "text/empty_strings: expected outputs, got none"]


def test_a_call_that_kills_the_process_is_named(monkeypatch):
    processes = []

    def run_export_calls(calls, timeout):
        processes.append(len(calls))
        if "abort" in calls:
            raise AssertionError("loading exports without zoo failed")
        return [{} for _ in calls]

    monkeypatch.setattr(testing, "run_export_calls", run_export_calls)
    named = [(f"call {i}", "abort" if i == 5 else "fine") for i in range(7)]
    with pytest.raises(pytest.fail.Exception,
                       match=r"^call 5 kills the serving process:\n"
                             r"loading exports without zoo failed"):
        run_attributed(named)
    # All 7; then calls 0-2 pass, 3-4 pass, 5 fails: it is named.
    assert processes == [7, 3, 2, 1]
    assert run_attributed(named[:2]) == [{}, {}]


@pytest.fixture(scope="module", params=["float32", "mixed_bfloat16"])
def tiny(tmp_path_factory, request):
    """`{recipe: (exports.Tiny, export path)}`: built once, exported once,
    under each dtype policy (a mixed-precision export serves the same)."""
    root = tmp_path_factory.mktemp("exports")
    found = {}
    for recipe in exports.RECIPES:
        built = exports.build(recipe, precision=request.param)
        found[recipe] = (built, exports.export(built, str(root / recipe)))
    return found


def planned_calls(tiny):
    """`[(name, (path, signature, inputs), case or None)]`: every hostile
    case, then one ordinary call per signature (case None)."""
    planned, ordinary = [], []
    for recipe, names in SIGNATURES.items():
        built, path = tiny[recipe]
        for signature in names:
            _, specs = built.endpoints[signature]
            for case in hostile.cases(specs):
                planned.append((f"{recipe}/{signature}: {case.name}",
                                (path, signature, case.inputs), case))
            ordinary.append((f"{recipe}/{signature}: ordinary",
                             (path, signature, hostile.ordinary_inputs(specs)),
                             None))
    return planned + ordinary


def run_attributed(named_calls, timeout=900):
    """`testing.run_export_calls`, naming the call that kills the process.

    A call that aborts the process (or hangs it) loses every answer of the
    batch; the batch is then halved until one call is left, so that the
    failure names it.
    """
    calls = [call for _, call in named_calls]
    try:
        return testing.run_export_calls(calls, timeout=timeout)
    except (AssertionError, subprocess.TimeoutExpired) as e:
        while len(named_calls) > 1:
            half = named_calls[:len(named_calls) // 2]
            try:
                testing.run_export_calls([c for _, c in half], timeout)
                named_calls = named_calls[len(half):]
            except (AssertionError, subprocess.TimeoutExpired):
                named_calls = half
        pytest.fail(f"{named_calls[0][0]} kills the serving process:\n{e}")


def served_calls(planned):
    """`{call name: (case or None, answer)}` of the `planned_calls`."""
    answers = run_attributed([(name, call) for name, call, _ in planned])
    return {name: (case, answer)
            for (name, _, case), answer in zip(planned, answers)}


def saved_model_cli():
    """The `saved_model_cli` of this Python's TensorFlow."""
    script = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    if os.path.exists(script):
        return [script]
    return [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]


def run_saved_model_cli(tiny, folder):
    """`{recipe: completed process}` of `saved_model_cli run` on each
    recipe's `serving_default`, with the ordinary inputs as .npy files."""
    found = {}
    for recipe, (built, path) in tiny.items():
        _, specs = built.endpoints["serving_default"]
        files = []
        for name, value in hostile.ordinary_inputs(specs).items():
            file = os.path.join(folder, f"{recipe}-{name}.npy")
            np.save(file, value)
            files.append(f"{name}={file}")
        found[recipe] = subprocess.run(
            [*saved_model_cli(), "run", "--dir", path, "--tag_set", "serve",
             "--signature_def", "serving_default", "--inputs",
             ";".join(files)],
            capture_output=True, text=True, timeout=300,
            cwd=folder,  # Not the repository: no `zoo` to import.
        )
    return found


@pytest.fixture(scope="module")
def background(tiny, tmp_path_factory):
    """The work of other processes, started at once and run alongside the
    tests: futures of `served_calls` and of `run_saved_model_cli`."""
    folder = str(tmp_path_factory.mktemp("saved_model_cli"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        yield {"served": pool.submit(served_calls, planned_calls(tiny)),
               "cli": pool.submit(run_saved_model_cli, tiny, folder)}


@pytest.fixture(scope="module")
def served(background):
    return background["served"].result()


@pytest.mark.slow
def test_every_signature_answers_as_in_process(background, tiny):
    """Without zoo, each signature gives what the in-process model gives.

    Numbers within 1e-6, strings identical. The sampling signatures
    (poetry's generate and compose) draw with the fixed seed of the
    ordinary inputs, so their text is compared too.
    """
    in_process = {}  # While the other processes run.
    for recipe, names in SIGNATURES.items():
        built, _ = tiny[recipe]
        for signature in names:
            fn, specs = built.endpoints[signature]
            inputs = hostile.ordinary_inputs(specs)
            in_process[recipe, signature] = tf.function(
                fn, input_signature=specs)(
                    *[tf.constant(inputs[spec.name]) for spec in specs])
    served = background["served"].result()
    for (recipe, signature), expected in in_process.items():
        _, answer = served[f"{recipe}/{signature}: ordinary"]
        assert testing.EXPORT_ERROR not in answer, answer
        assert sorted(answer) == sorted(expected), (recipe, signature)
        for key, value in expected.items():
            value = value.numpy()
            where = f"{recipe}/{signature} {key}"
            if value.dtype == object:
                np.testing.assert_array_equal(
                    answer[key], value.astype("S"), err_msg=where)
            else:
                assert answer[key].dtype == value.dtype, where
                np.testing.assert_allclose(answer[key], value, rtol=0,
                                           atol=1e-6, err_msg=where)


@pytest.mark.slow
def test_the_exports_have_exactly_these_signatures(tiny, background):
    for recipe, (built, path) in tiny.items():
        assert sorted(built.endpoints) == sorted(SIGNATURES[recipe])
        assert sorted(tf.saved_model.load(path).signatures) == sorted(
            SIGNATURES[recipe])


@pytest.mark.slow
@pytest.mark.parametrize("signature", SIGNATURE_IDS)
def test_every_hostile_case_has_its_promised_outcome(served, signature):
    found, tried = [], 0
    for name, (case, answer) in served.items():
        if case is None or not name.startswith(f"{signature}: "):
            continue
        tried += 1
        error = answer.get(testing.EXPORT_ERROR)
        found.extend(hostile.problems(
            case, None if error is not None else answer,
            None if error is None else str(error)))
    assert tried > 0
    assert not found, f"{signature}:\n" + "\n".join(found)


@pytest.mark.slow
def test_the_count_is_every_case_tried(served, tiny):
    total = hostile.count(tiny[r][0].endpoints[s][1]
                          for r, names in SIGNATURES.items() for s in names)
    tried = sum(case is not None for case, _ in served.values())
    assert tried == total
    with open(os.path.join(REPO, "README.md")) as f:
        assert (f"**{total} hostile calls** to the {len(SIGNATURE_IDS)} "
                "signatures") in f.read().replace("\n", " ")
    print(f"\n{total} hostile inputs tried over {len(SIGNATURE_IDS)} "
          f"signatures of {len(SIGNATURES)} recipes")


@pytest.mark.slow
def test_saved_model_cli_runs_serving_default_of_every_recipe(background):
    for recipe, found in background["cli"].result().items():
        assert found.returncode == 0, f"{recipe}:\n{found.stderr[-3000:]}"
        for key in SERVING_DEFAULT_OUTPUTS[recipe]:
            assert f"Result for output key {key}:" in found.stdout, (
                recipe, found.stdout)


SERVING_DEFAULT_OUTPUTS = {
    "mnist_rnn": ("classes", "probabilities"),
    "sentiment": ("labels", "probabilities"),
    "tagger": ("scores", "tags"),
    "translate": ("translation",),
    "poetry": ("text",),
}
