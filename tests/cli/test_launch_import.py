"""``playground launch`` and ``playground runs import`` (issue 12): a run trained elsewhere comes
back into the app and is listed, opened, resumed like any other; bad input is one sentence."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from playground import __version__
from playground.cli import main
from playground.core.runs import INTERRUPTED, RunStore


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its content hash and mtime (the source must not
    change at all)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            + f"@{p.stat().st_mtime_ns}"
            for p in sorted(folder.rglob("*")) if p.is_file()}


def remote_run(tmp_path: Path, name: str = "20250101-120000-digits", **info) -> Path:
    """A run folder as another machine wrote it (not in this app's runs)."""
    import numpy as np
    from safetensors.numpy import save_file

    folder = tmp_path / "from-cluster" / name
    (folder / "checkpoints").mkdir(parents=True)
    data = {"task": "image", "name": "digits", "model": "small_cnn",
            "config": {"epochs": 1}, "data_spec": "demo:digits", "status": "finished",
            "versions": {"playground": __version__}, "world_size": 8, "host": "gpu-node-7",
            "created": "2025-01-01T12:00:00", **info}
    (folder / "run.json").write_text(json.dumps(data))
    (folder / "metrics.jsonl").write_text('{"epoch": 1, "val_accuracy": 0.9}\n')
    save_file({"w": np.zeros((2, 3), dtype=np.float32)}, str(folder / "checkpoints" /
                                                              "best.safetensors"))
    return folder


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------------------------
# playground launch
# --------------------------------------------------------------------------------------------
def test_launch_command_writes_the_folder_and_prints_the_command_then_the_folder(
        tmp_path, capsys):
    run = RunStore().create("image", "digits", model="small_cnn",
                            config={"model": "small_cnn", "batch_size": 32},
                            extra={"data_spec": "demo:digits"})
    out_dir = tmp_path / "big"
    code, out, err = run_cli(capsys, "launch", str(run.path), "--gpus", "8", "--out",
                             str(out_dir))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[-1] == str(out_dir)
    assert lines[0].startswith("torchrun --nnodes 1 --nproc-per-node 8 --standalone -m "
                               "playground train image --name digits --model small_cnn")
    assert "README.md" in err
    assert (out_dir / "launch.sh").is_file() and (out_dir / "slurm.sbatch").is_file()
    # a folder that is not empty is refused without --force: one error line, exit 1
    code, out, err = run_cli(capsys, "launch", str(run.path), "--gpus", "8", "--out",
                             str(out_dir))
    assert code == 1 and err.startswith("error: ") and "--force" in err.splitlines()[0]
    assert run_cli(capsys, "launch", str(out_dir / "config.json"), "--gpus", "2", "--nodes",
                   "2", "--out", str(out_dir), "--force")[0] == 0
    assert "--nnodes 2" in (out_dir / "launch.sh").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--gpus", "0"], "The number of GPUs per node must be a whole number between 1 and"),
    (["--gpus", "-1"], "The number of GPUs per node must be a whole number between 1 and"),
    (["--gpus", "2", "--nodes", "0"], "The number of nodes must be a whole number"),
])
def test_launch_bad_counts_are_one_error_line(tmp_path, capsys, argv, message):
    run = RunStore().create("image", "d", model="small_cnn", config={},
                            extra={"data_spec": "demo:digits"})
    code, out, err = run_cli(capsys, "launch", str(run.path), *argv, "--out",
                             str(tmp_path / "o"))
    assert code == 1 and out == ""
    assert err.splitlines()[0].startswith(f"error: {message}")
    assert not (tmp_path / "o").exists()


def test_launch_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    code, out, err = run_cli(capsys, "launch", str(tmp_path), "--gpus", "2", "--out",
                             str(tmp_path / "o"))
    assert code == 1
    assert err.splitlines()[0] == (f"error: {tmp_path} is not a run folder (it has no "
                                   "run.json); give a run folder or a run config file.")


# --------------------------------------------------------------------------------------------
# playground runs import
# --------------------------------------------------------------------------------------------
def test_import_copies_the_run_into_the_store_and_leaves_the_source_alone(tmp_path, capsys):
    from playground.core.loader import open_for_inference

    src = remote_run(tmp_path, status="training", pid=4242)
    (src / "checkpoints" / ".best.safetensors.x1.tmp").write_bytes(b"half")  # cut short
    (src / "outside").symlink_to(tmp_path)  # a link is not followed out of the run
    before = tree_digest(src)
    code, out, err = run_cli(capsys, "runs", "import", str(src))
    assert code == 0, err
    copy = Path(out.splitlines()[-1])
    assert copy == RunStore().root / "image" / src.name
    assert tree_digest(src) == before and (src / "outside").is_symlink()
    runs, problems = RunStore().scan("image")
    assert [r.path for r in runs] == [copy] and not problems
    info = runs[0].info()
    assert info["world_size"] == 8 and info["imported"]["from"] == str(src.resolve())
    assert runs[0].status == INTERRUPTED  # it was copied while training: resumable
    assert not (copy / "outside").exists()
    assert not list((copy / "checkpoints").glob("*.tmp"))
    spec = open_for_inference(copy, "image")
    assert spec.which == "best" and spec.header().tensors["w"].shape == (2, 3)
    # again: a new name, never over the first copy
    code, out, err = run_cli(capsys, "runs", "import", str(src))
    assert code == 0 and Path(out.splitlines()[-1]).name == f"{src.name}-imported"
    code, out, err = run_cli(capsys, "runs", "import", str(src))
    assert Path(out.splitlines()[-1]).name == f"{src.name}-imported-2"
    assert len(RunStore().scan("image")[0]) == 3
    # a run already in the store is not imported into it again
    code, out, err = run_cli(capsys, "runs", "import", str(copy))
    assert code == 1 and "already in the app's runs" in err


def test_import_into_another_home(tmp_path, capsys):
    src = remote_run(tmp_path)
    home = tmp_path / "other-home"
    code, out, err = run_cli(capsys, "runs", "import", str(src), "--home", str(home))
    assert code == 0, err
    assert Path(out.splitlines()[-1]) == home / "runs" / "image" / src.name


def _bad_sources(tmp_path: Path) -> list[tuple[Path, str]]:
    cases = []
    empty = tmp_path / "empty"
    empty.mkdir()
    cases.append((empty, "is not a run folder: it has no run.json"))
    cases.append((tmp_path / "missing", "does not exist"))
    broken = remote_run(tmp_path, "broken")
    (broken / "run.json").write_text("{not json")
    cases.append((broken, "run.json is not valid JSON"))
    cases.append((remote_run(tmp_path, "audio", task="audio"),
                  "is a run of the task 'audio', which this version of the app does not know"))
    cases.append((remote_run(tmp_path, "future", versions={"playground": "99.0.1"}),
                  f"was written by Model Playground 99.0.1, newer than this one ({__version__})"
                  ": update the app to import it."))
    cases.append((remote_run(tmp_path, "nonsense", versions={"playground": "banana"}),
                  "which is not a version number"))
    pickled = remote_run(tmp_path, "pickled")
    (pickled / "checkpoints" / "model.pth").write_bytes(b"\x80\x04pickle")
    cases.append((pickled, "model.pth is not a safetensors checkpoint"))
    damaged = remote_run(tmp_path, "damaged")
    (damaged / "checkpoints" / "last.safetensors").write_bytes(b"\x00" * 5)
    cases.append((damaged, "is damaged"))
    a_file = tmp_path / "run.zip"
    a_file.write_bytes(b"PK")
    cases.append((a_file, "is not a folder"))
    return cases


def test_import_refuses_what_is_not_a_run_of_this_app_in_one_sentence(tmp_path, capsys):
    for src, message in _bad_sources(tmp_path):
        before = tree_digest(src) if src.is_dir() else None
        code, out, err = run_cli(capsys, "runs", "import", str(src))
        first = err.splitlines()[0]
        assert code == 1 and out == "", (src, err)
        assert first.startswith("error: ") and message in first, (message, first)
        if before is not None:
            assert tree_digest(src) == before
    assert RunStore().scan()[0] == []
    assert not [p for p in RunStore().root.rglob("*") if p.is_file()]  # nothing half-copied


def test_an_old_run_without_an_app_version_is_imported(tmp_path):
    from playground.core.runs import import_run

    src = remote_run(tmp_path, versions={})
    assert import_run(src).info()["task"] == "image"


def test_a_copy_that_fails_part_way_leaves_nothing_behind(tmp_path, monkeypatch):
    from playground.core import runs as runs_module
    from playground.core.errors import StorageError

    src = remote_run(tmp_path)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs_module.shutil, "copy2", full_disk)
    monkeypatch.setattr(runs_module.shutil, "copytree", full_disk)
    with pytest.raises(StorageError, match="No space left on device.*nothing was imported"):
        runs_module.import_run(src)
    assert list((RunStore().root / "image").iterdir()) == []
    assert (src / "checkpoints" / "best.safetensors").is_file()


# --------------------------------------------------------------------------------------------
# the whole trip: launch folder -> torchrun (2 gloo processes) -> import -> use and resume
# --------------------------------------------------------------------------------------------
def test_a_run_trained_by_the_launch_folder_comes_back_and_is_used_like_any_other(
        tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from playground.core import schema
    from playground.vision.config import ImageTrainConfig
    from playground.vision.predict import ImagePredictor

    cfg = schema.to_dict(schema.replace(ImageTrainConfig(), epochs=1, image_size=16,
                                        batch_size=32, augment_flip=False))
    local = RunStore().create("image", "digits", model="small_cnn", config=cfg,
                              extra={"data_spec": "demo:digits"})
    folder = tmp_path / "launch"
    assert run_cli(capsys, "launch", str(local.path), "--gpus", "2", "--out", str(folder))[0] == 0
    # "the bigger machine": the folder elsewhere, torchrun from this venv, 2 CPU processes
    remote = tmp_path / "machine" / "launch"
    shutil.copytree(folder, remote)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAYGROUND_")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run(["bash", str(remote / "launch.sh"), "--device", "cpu", "--quiet"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    trained = Path(proc.stdout.splitlines()[-1])
    assert trained.parent == remote / "home" / "runs" / "image"
    info = json.loads((trained / "run.json").read_text())
    assert info["world_size"] == 2 and info["global_batch_size"] == 32
    assert info["config"] == cfg
    # brought back and imported
    code, out, err = run_cli(capsys, "runs", "import", str(trained))
    assert code == 0, err
    copy = Path(out.splitlines()[-1])
    assert copy.parent == RunStore().root / "image"
    assert copy in [r.path for r in RunStore().scan("image")[0]]
    image = tmp_path / "seven.png"
    Image.fromarray((np.random.default_rng(0).random((16, 16, 3)) * 255).astype("uint8")
                    ).save(image)
    predictor = ImagePredictor.from_run(copy, device="cpu")
    top = predictor.predict([str(image)], top_k=3)[0]
    assert len(top) == 3 and abs(sum(p for _, p in top)) <= 1.0 + 1e-6
    # resumed here, on one process, to a new total
    code, out, err = run_cli(capsys, "resume", str(copy), "--epochs", "2", "--device", "cpu",
                             "--threads", "1", "--quiet")
    assert code == 0, err
    assert json.loads((copy / "run.json").read_text())["result"]["epochs_done"] == 2
    assert json.loads((trained / "run.json").read_text())["status"] == "finished"
