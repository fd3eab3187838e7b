"""Helpers for the export tests: tiny runs trained through the CLI, the export job, and the
generated predict.py run in a subprocess with torch and the app blocked."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

BLOCKER = (
    "import sys\n"
    "class B:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('torch', 'torchaudio', 'torchvision', 'playground'):\n"
    "            raise ImportError(name + ' is blocked')\n"
    "sys.meta_path.insert(0, B())\n")


def train(argv: list[str], home: Path) -> Path:
    """Run ``playground train …`` in-process with one thread; the new run folder."""
    import torch

    from playground.cli import main

    threads = torch.get_num_threads()
    old = os.environ.get("PLAYGROUND_HOME")
    os.environ["PLAYGROUND_HOME"] = str(home)
    out, err = io.StringIO(), io.StringIO()
    try:
        torch.set_num_threads(1)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["train", *argv, "--home", str(home), "--device", "cpu", "--quiet"])
    finally:
        torch.set_num_threads(threads)
        if old is None:
            os.environ.pop("PLAYGROUND_HOME", None)
        else:
            os.environ["PLAYGROUND_HOME"] = old
    assert rc == 0, err.getvalue()
    return Path(out.getvalue().strip().splitlines()[-1])


def export(run_dir: Path, fmt: str, out: Path, checkpoint: str = "best"):
    """The export job's terminal event (Finished or Failed)."""
    from playground.core.export import make_export_job
    from playground.core.jobs import CollectingContext, run_job

    return run_job(make_export_job(run_dir, fmt, out, checkpoint), CollectingContext())


def exported(run_dir: Path, fmt: str, out: Path) -> dict:
    """Export and assert it finished with parity within tolerance; the result dict."""
    from playground.core import events as ev
    from playground.core.export import TOLERANCE

    event = export(run_dir, fmt, out)
    assert isinstance(event, ev.Finished), getattr(event, "message", event)
    result = event.result
    p = result["parity"]
    assert p["ok"] and p["max_scaled_diff"] <= TOLERANCE, p
    assert p["max_abs_diff"] <= TOLERANCE * p["scale"], p
    assert p["batch_size"] != p["traced_batch_size"]  # checked at another batch size
    if p["seq_len"] is not None:
        assert p["seq_len"] != p["traced_seq_len"]     # and another length
    for f in result["files"]:
        assert Path(f).is_file() and Path(f).parent == out
    meta = json.loads((out / "model.json").read_text(encoding="utf-8"))
    assert meta["format"] == fmt and meta["parity"]["ok"]
    return result


def run_predict(folder: Path, args: list[str], tmp_path: Path) -> list[str]:
    """``python predict.py ARGS`` in ``folder`` with torch and the app unimportable."""
    blocker_dir = tmp_path / "blocker"
    blocker_dir.mkdir(exist_ok=True)
    (blocker_dir / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(blocker_dir)}
    proc = subprocess.run([sys.executable, "predict.py", *args], cwd=folder,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "blocked" not in proc.stderr
    return proc.stdout.rstrip("\n").splitlines()


def names(result: dict) -> set[str]:
    return {Path(f).name for f in result["files"]}
