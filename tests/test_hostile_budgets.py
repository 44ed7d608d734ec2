"""Hostile input, third round (issue 41), classes 3, 5 and 7: sizes that ask for more than the machine has,
answers that were silently wrong, and the second round's cases that still ended in a traceback.

The CLI cases run through the harness of tests/test_adversarial.py (tests/cli_cases.py): the real CLI,
one clear message, no traceback.  The others call the part that decides, each against the budget or rule
it names.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sepbench.bench.gate import GateError, judge_runs, samples
from sepbench.core import budget
from sepbench.core.spec import LayerSpec, ModelSpec
from sepbench.results.formats import figures_problem
from sepbench.results.read_asv import load_asv_dir
from sepbench.results.slowdown import MAX_SAMPLES, MIN_SECONDS, SlowdownError, judge
from sepbench.util.env import EnvError, env_flag, env_path
from sepbench.util.nesting import MAX_NESTING, nesting_depth
from tests.cli_cases import ERR, Case, _file, run_cli_case


def _pair(name: str, shape: str, baseline: str, candidate: str, extra: str = "") -> str:
    return (
        f'[pair]\nname = "{name}"\ninput_shape = {shape}\ndata = "synthetic"\n{extra}\n'
        f'[baseline]\nname = "{name}-a"\nlayers = [{baseline}]\n\n[candidate]\nname = "{name}-b"\nlayers = [{candidate}]\n'
    )


CONV = '{ name = "c", kind = "conv", filters = 4, kernel = 3 }'
SEP = '{ name = "c", kind = "separable_conv", filters = 4, kernel = 3 }'
GAP = '{ name = "g", kind = "global_avg_pool" }'
SPEC = ["spec", "--pair", "{root}/p.toml"]

UNBOUNDED: list[Case] = [
    # a model's tensors are budgeted from its spec before anything is built
    ("input 4096 cubed", SPEC, {}, [_file("p.toml", _pair("h", "[4096, 4096, 4096]", CONV, SEP))], ERR, "the budget is 64.0 MiB"),
    ("input 4096 cubed names it", SPEC, {}, [_file("p.toml", _pair("h", "[4096, 4096, 4096]", CONV, SEP))], ERR, "4096x4096x4096 input"),
    (
        "a 3 GiB kernel",
        SPEC,
        {},
        [_file("p.toml", _pair("w", "[64, 64, 3]", '{ name = "c", kind = "conv", filters = 65536, kernel = 64 }', SEP))],
        ERR,
        "tensor c/kernel (64, 64, 3, 65536) needs 3.0 GiB; the budget is 64.0 MiB",
    ),
    (
        "weights past 256 MiB",
        SPEC,
        {},
        [
            _file(
                "p.toml",
                _pair(
                    "d",
                    "[1, 1, 4096]",
                    ", ".join(f'{{ name = "c{i}", kind = "conv", filters = 4096, kernel = 1 }}' for i in range(5)),
                    ", ".join(f'{{ name = "c{i}", kind = "separable_conv", filters = 4096, kernel = 1 }}' for i in range(5)),
                ),
            )
        ],
        ERR,
        "its weights need 320.1 MiB; the budget is 256.0 MiB",
    ),
    ("TOML nested 10^5 deep", SPEC, {}, [_file("p.toml", "x = " + "[" * 100_000 + "]" * 100_000)], ERR, "nested 100,000 levels deep"),
    # every integer option has an upper budget, checked before anything runs
    ("profile chunk 10^9", ["profile", "--images", "200", "--chunk", "1000000000"], {}, [], ERR, "argument --chunk: 1,000,000,000 asked"),
    ("profile images 10^8", ["profile", "--images", "100000000"], {}, [], ERR, "argument --images: 100,000,000 asked"),
    ("reproduce epochs 10^9", ["reproduce", "--epochs", "1000000000"], {}, [], ERR, "argument --epochs: 1,000,000,000 asked"),
    ("reproduce limit 10^12", ["reproduce", "--limit", "10" + "0" * 11], {}, [], ERR, "argument --limit"),
    ("reproduce seeds 10^6", ["reproduce", "--seeds", "1000000"], {}, [], ERR, "argument --seeds: 1,000,000 asked"),
    ("train threads 10^6", ["train", "--threads", "1000000"], {}, [], ERR, "argument --threads: 1,000,000 asked"),
    ("train seed 2^40", ["train", "--seed", str(2**40)], {}, [], ERR, "argument --seed"),
    ("alert rounds 10^6", ["check", "ab", "--rounds", "1000000"], {}, [], ERR, "argument --rounds: 1,000,000 asked"),
    ("regress confirm 10^6", ["check", "asv", "--confirm", "1000000"], {}, [], ERR, "argument --confirm"),
]
SILENT: list[Case] = [
    (
        "kernel 3.0",
        SPEC,
        {},
        [_file("p.toml", _pair("f", "[28, 28, 1]", CONV.replace("kernel = 3", "kernel = 3.0"), SEP))],
        ERR,
        "kernel: 3.0 is not of type 'integer'",
    ),
    ("filters true", SPEC, {}, [_file("p.toml", _pair("f", "[28, 28, 1]", CONV.replace("4", "true"), SEP))], ERR, "filters: True"),
    ("input_shape 28.0", SPEC, {}, [_file("p.toml", _pair("f", "[28.0, 28, 1]", CONV, SEP))], ERR, "input_shape[0]: 28.0"),
    ("epochs 2.0", SPEC, {}, [_file("p.toml", _pair("f", "[28, 28, 1]", CONV, SEP, "epochs = 2.0"))], ERR, "pair.epochs: 2.0"),
    (
        "softmax on a middle layer",
        SPEC,
        {},
        [_file("p.toml", _pair("m", "[28, 28, 1]", CONV.replace(" }", ', activation = "softmax" }') + ", " + GAP, SEP + ", " + GAP))],
        ERR,
        "activation 'softmax' only on the last layer",
    ),
    ("report output empty", ["report", "--output", ""], {}, [], ERR, "argument --output: '' names no folder"),
    ("report output blank", ["report", "--output", "  "], {}, [], ERR, "names no folder"),
]
SECOND_ROUND: list[Case] = [
    (
        "cache dir of a user with no home",
        ["data"],
        {"SEPBENCH_CACHE_DIR": "~nosuchuser/cache", "SEPBENCH_MNIST_DIR": ""},
        [],
        ERR,
        "'~nosuchuser' names no user",
    ),
]
CASES = UNBOUNDED + SILENT + SECOND_ROUND


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_gets_a_clear_message(case, tmp_path, monkeypatch, capsys, mnist_dir):
    run_cli_case(case, tmp_path, monkeypatch, capsys, mnist_dir)


# ---- class 3: budgets computed from the spec, before allocating -------------------------------------------


@pytest.mark.parametrize(
    ("shape", "layers", "refused"),
    [
        ((28, 28, 1), (LayerSpec("c", "conv", 8, 7, 2),), None),  # the study's first layer: kilobytes
        ((2048, 2048, 4), (LayerSpec("c", "conv", 4, 1),), None),  # 64 MiB input exactly: at the budget, not past it
        ((2048, 2048, 5), (LayerSpec("c", "conv", 4, 1),), "largest activation"),  # 80 MiB input
        ((512, 512, 3), (LayerSpec("c", "conv", 8, 5),), "largest activation"),  # patches 508*508*75*4 = 77 MB
        ((8, 8, 8192), (LayerSpec("c", "conv", 8192, 1),), "tensor c/kernel"),  # 256 MiB kernel
    ],
)
def test_model_budget_refuses_exactly_past_each_limit(shape, layers, refused) -> None:
    spec = ModelSpec("m", layers, shape)
    if refused is None:
        budget.check_model(spec)
    else:
        with pytest.raises(ValueError, match=refused):
            budget.check_model(spec)


def test_activation_bytes_count_a_convolutions_patches() -> None:
    spec = ModelSpec("m", (LayerSpec("c", "conv", 2, 3),), (10, 10, 4))
    assert budget.activation_bytes(spec) == 4 * 8 * 8 * 9 * 4  # patches (8x8 outputs, 3x3x4 each) beat the 400-value input


def test_batch_budget_names_the_option_and_the_most_images() -> None:
    spec = ModelSpec("m", (LayerSpec("c", "conv", 2, 3),), (10, 10, 4))
    most = budget.MAX_BATCH_BYTES // budget.activation_bytes(spec)
    budget.check_batch(spec, most, "--chunk")
    with pytest.raises(ValueError, match=rf"^--chunk: {most + 1:,} images .* \(at most {most:,} images\)$"):
        budget.check_batch(spec, most + 1, "--chunk")


@pytest.mark.parametrize(
    ("text", "depth"),
    [("", 0), ("a = 1", 0), ('x = ["]", [1]]', 2), ("x = [1] # [[[[[", 1), ('{"a#": [[1]], "b": "{{{"}', 3), ("[" * 70_000, 70_000)],
)
def test_nesting_depth_counts_brackets_outside_strings_and_comments(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_a_gate_baseline_of_a_million_samples_is_refused_before_judging(tmp_path: Path) -> None:
    doc = {"machine_info": {}, "benchmarks": [{"fullname": "tests/bench/t.py::t[a]", "stats": {"data": [1e-3] * (MAX_SAMPLES + 1)}}]}
    with pytest.raises(GateError, match=rf"holds {MAX_SAMPLES + 1:,} samples; the gate takes 3 to {MAX_SAMPLES:,}"):
        samples(doc, "baseline")
    with pytest.raises(SlowdownError, match="10,001 times"):
        judge([1e-3] * (MAX_SAMPLES + 1), [1e-3] * 5)


def test_an_asv_result_is_read_in_time_linear_in_its_figures(tmp_path: Path) -> None:
    """Not a timing (the machine is shared): the reader's work is counted instead.  Every figure of a
    benchmark with 4 parameters becomes a row, each parameter value is parsed once per benchmark, not
    once per figure (ast.literal_eval ran 8 times a figure and made a 20 MB result take minutes)."""
    import ast
    from unittest import mock

    params = [[f"'b{i}'" for i in range(4)], [f"'m{i}'" for i in range(3)], [str(2**i) for i in range(10)], ["'p'", "'q'"]]
    n = 4 * 3 * 10 * 2
    root = tmp_path / "asv"
    (root / "m").mkdir(parents=True)
    names = ["backend", "model", "batch_size", "path"]
    bench = {
        "version": 2,
        **{f"s{k}.time_x": {"type": "time", "unit": "seconds", "param_names": names, "params": params} for k in range(20)},
    }
    (root / "benchmarks.json").write_text(json.dumps(bench))
    results = {f"s{k}.time_x": [[1e-3 + i * 1e-6 for i in range(n)], params] for k in range(20)}
    doc = {
        "commit_hash": "a" * 40,
        "env_name": "e",
        "date": 1,
        "params": {"machine": "m"},
        "result_columns": ["result", "params"],
        "results": results,
    }
    (root / "m" / "aaaaaaaa-e.json").write_text(json.dumps(doc))
    with mock.patch.object(ast, "literal_eval", wraps=ast.literal_eval) as parse:
        rows, warnings, _ = load_asv_dir(root)
    assert warnings == [] and len(rows) == 20 * n
    assert parse.call_count == 20 * sum(len(p) for p in params)  # 380 parses for 4,800 figures
    first = rows[0]
    assert (first["backend"], first["model"], first["batch_size"], first["params"]) == (
        "b0",
        "m0",
        1,
        "backend=b0, model=m0, batch_size=1, path=p",
    )
    assert rows[-1]["params"] == "backend=b3, model=m2, batch_size=512, path=q" and rows[-1]["value"] == pytest.approx(
        1e-3 + (n - 1) * 1e-6
    )


@pytest.mark.parametrize(
    ("values", "why"),
    [([1.0, None, float("nan"), 3], None), ([1.0, "x"], "[1]: 'x' is not of type"), ([True], "[0]: True"), ([float("inf")], "[0]: inf")],
)
def test_figure_lists_follow_the_schemas_rule(values: list, why: str | None) -> None:
    got = figures_problem(values)
    assert got is None if why is None else (got is not None and got.startswith(why))


# ---- class 5: silent wrong answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kernel": 3.0}, "kernel must be a whole number, got 3.0"),
        ({"filters": True}, "filters must be a whole number, got True"),
        ({"stride": 1.5}, "stride must be a whole number"),
        ({"activation": "relu"}, "unknown activation 'relu'"),
    ],
)
def test_a_layer_refuses_what_is_not_its_type(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LayerSpec("c", "conv", **{"filters": 4, "kernel": 3, **kwargs})


@pytest.mark.parametrize(
    ("layers", "ok"),
    [
        ((LayerSpec("g", "global_avg_pool"), LayerSpec("d", "dense", 10, activation="softmax")), True),
        ((LayerSpec("c", "conv", 4, 3, activation="softmax"), LayerSpec("g", "global_avg_pool")), False),
        ((LayerSpec("g", "global_avg_pool"), LayerSpec("d", "dense", 10, activation="softmax"), LayerSpec("e", "dense", 10)), False),
    ],
)
def test_softmax_only_ends_a_model_on_a_dense_layer(layers: tuple, ok: bool) -> None:
    if ok:
        ModelSpec("m", layers)
    else:
        with pytest.raises(ValueError, match="only on the last layer, a dense one"):
            ModelSpec("m", layers)


def _run(cases: dict[str, list[float]] | list[tuple[str, list[float]]]) -> dict:
    items = cases.items() if isinstance(cases, dict) else cases
    info = {"machine_name": "x", "threads": {"requested": 1}}
    return {"machine_info": info, "benchmarks": [{"fullname": f"tests/bench/t.py::t[{k}]", "stats": {"data": v}} for k, v in items]}


@pytest.mark.parametrize(
    ("base", "run", "message"),
    [
        ({"a": [1.0] * 5}, {"b": [1.0] * 5}, "the run holds none of the baseline's 1 cases"),  # was "0 regressions of 0 cases"
        ({"a": [1.0]}, {"a": [1.0]}, "holds 1 samples; the gate takes 3 to"),  # 1 a side: a zero-width interval
        ([("a", [1.0] * 5), ("a", [9.0] * 5)], {"a": [1.0] * 5}, r"case tests/bench/t.py::t\[a\] appears twice"),
        ({"a": [1.0] * 5}, [("a", [1.0] * 5), ("a", [1.0] * 5)], "appears twice"),
    ],
)
def test_the_gate_refuses_to_pass_on_nothing_judged(base, run, message: str) -> None:
    with pytest.raises(GateError, match=message):
        judge_runs(_run(base), _run(run))


@pytest.mark.parametrize("tiny", [5e-324, 1e-12, 0.0])
def test_a_time_below_a_nanosecond_is_refused(tiny: float) -> None:
    with pytest.raises(SlowdownError, match=f"at least {MIN_SECONDS:g}"):
        judge([tiny] * 5, [1e-3] * 5)
    judge([MIN_SECONDS] * 5, [1e-3] * 5)  # the floor itself is a time


def test_a_result_row_of_5e_324_seconds_is_not_a_figure() -> None:
    from sepbench.results.tidy import implausible

    assert implausible("latency_s", 5e-324, "seconds") is not None and implausible("latency_s", MIN_SECONDS, "seconds") is None
    assert implausible("latency_s", 0.0, "seconds", stat="iqr") is None  # a spread may be zero


@pytest.mark.parametrize(
    ("value", "flag"),
    [
        ("", False),
        ("0", False),
        ("false", False),
        ("No", False),
        (" off ", False),
        ("1", True),
        ("TRUE", True),
        ("yes", True),
        ("on", True),
    ],
)
def test_environment_yes_and_no(value: str, flag: bool, monkeypatch) -> None:
    from sepbench.util import tuning

    monkeypatch.setenv("SEPBENCH_RETUNE", value)
    assert env_flag("SEPBENCH_RETUNE") is flag and tuning.retune() is flag  # SEPBENCH_RETUNE=false once meant "retune"


@pytest.mark.parametrize("value", ["maybe", "2", "retune", "y"])
def test_an_unknown_word_is_refused_naming_the_variable(value: str, monkeypatch) -> None:
    from sepbench.util import tuning

    monkeypatch.setenv("SEPBENCH_RETUNE", value)
    with pytest.raises(EnvError, match=f"^SEPBENCH_RETUNE='{value}': give 1"):
        tuning.retune()


# ---- class 7: the second round's cases --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["~nosuchuser/cache", "~no-such-user-41"])
def test_a_home_of_no_user_is_one_line(value: str, monkeypatch) -> None:
    from sepbench.util.paths import cache_dir

    monkeypatch.setenv("SEPBENCH_CACHE_DIR", value)
    with pytest.raises(EnvError, match="names no user with a home folder; give a full path"):
        cache_dir()
    monkeypatch.setenv("SEPBENCH_CACHE_DIR", "~/c")
    assert env_path("SEPBENCH_CACHE_DIR") == Path.home() / "c"


def test_the_nesting_budget_is_well_above_our_own_files() -> None:
    own = [p for p in Path(__file__).parents[1].glob("examples/pairs/*.toml")]
    assert own and all(nesting_depth(p.read_text()) < MAX_NESTING // 4 for p in own)
