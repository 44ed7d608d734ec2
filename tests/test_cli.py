import subprocess
import sys

import pytest

from impls.registry import backend_names


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sepbench", *args], capture_output=True, text=True, timeout=300, env=env)


def test_spec_prints_counts_shapes_and_ratios():
    out = run_cli("spec")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for figure in ["8,586", "1,427", "400", "3,216", "4,640", "330", "65", "344", "688", "117,384", "15,089", "0.166", "0.129"]:
        assert figure in text, figure
    for shape in ["11x11x8", "4x4x16", "2x2x32"]:
        assert text.count(shape) == 2, shape


def test_unknown_model_exits_2_with_one_line():
    out = run_cli("spec", "bogus")
    assert out.returncode == 2
    assert "unknown model 'bogus'" in out.stderr
    assert "Traceback" not in out.stderr


def test_data_command_reports_missing_directory(tmp_path):
    out = run_cli("data", "--data-dir", str(tmp_path))
    assert out.returncode == 2
    assert str(tmp_path) in out.stderr and "train-images-idx3-ubyte.gz" in out.stderr
    assert "Traceback" not in out.stderr


def test_data_command_verifies_real_files(mnist_dir):
    out = run_cli("data", "--data-dir", str(mnist_dir))
    assert out.returncode == 0, out.stderr
    assert "60,000" in out.stdout and "10,000" in out.stdout


@pytest.mark.slow
def test_backends_command_lists_all():
    out = run_cli("backends")
    assert out.returncode == 0, out.stderr
    for name in backend_names():
        assert name in out.stdout


def test_train_command_reuses_cached_weights_and_rejects_bad_models(tmp_path, monkeypatch, capsys, mnist_dir):
    """`sepbench train` (the main job's first step) trains only what the cache lacks: an entry stored
    by the real trainer is reported as cached, not trained again."""
    from sepbench.cli import main
    from sepbench.core.data import load_mnist
    from sepbench.core.recipe import DEFAULT_RECIPE
    from sepbench.training.trainers import shared_trainer, train
    from sepbench.training.weights_cache import store

    monkeypatch.setenv("SEPBENCH_CACHE_DIR", str(tmp_path / "cache"))
    x, y = load_mnist("train", mnist_dir, limit=256)
    path = store(train(shared_trainer(), "separable", x, y, DEFAULT_RECIPE, seed=0, progress=False))  # the recipe on 256 images
    before = path.stat().st_mtime_ns
    assert main(["train", "--models", "separable", "--no-progress", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "cached" in out and "separable" in out and shared_trainer() in out
    assert path.stat().st_mtime_ns == before  # not trained again
    assert main(["train", "--models", "resnet"]) == 2
    assert "resnet" in capsys.readouterr().err
    assert main(["train", "--models", ","]) == 2
    assert "names no model" in capsys.readouterr().err


@pytest.mark.parametrize("old", ["alert", "gate", "regress", "alert-study", "gate-study"])
def test_an_old_check_name_runs_the_new_check_and_says_where_it_moved(old, capsys):
    """The checks before ``sepbench check``: each still runs the same parser, under its new name."""
    from sepbench.cli import main
    from sepbench.commands.check import OLD_NAMES

    new = {"alert": "ab", "gate": "gate", "regress": "asv", "alert-study": "ab-rates", "gate-study": "gate-rates"}[old]
    assert OLD_NAMES[old] == new
    with pytest.raises(SystemExit) as stop:
        main([old, "--help"])
    out = capsys.readouterr()
    assert stop.value.code == 0
    assert f"sepbench {old}: now `sepbench check {new}`" in out.err and out.out.startswith(f"usage: sepbench check {new} "), out
