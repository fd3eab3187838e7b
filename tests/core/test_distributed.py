"""Training on several processes (torchrun, gloo on the CPU).

The unit tests check how a global batch is shared among ranks; the process tests start real
``torchrun`` groups of two CPU processes (``python -m torch.distributed.run``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from playground.core import distributed
from playground.core.distributed import World, share, take_share
from playground.core.engine import EpochBatches
from playground.core.errors import ConfigError


def test_share_splits_a_batch_evenly_and_completely():
    for n in (2, 7, 16, 33):
        for size in (2, 3, 4):
            parts = [share(n, World(r, size)) for r in range(size)]
            assert parts[0][0] == 0 and parts[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(parts, parts[1:], strict=False))
            lengths = [b - a for a, b in parts]
            assert max(lengths) - min(lengths) <= 1


def _batches(world: World, n: int, batch: int, monkeypatch, epoch: int = 2) -> list[list[int]]:
    monkeypatch.setattr(distributed, "_WORLD", world)
    sampler = EpochBatches(n, batch, seed=4, distributed=True)
    sampler.set_epoch(epoch)
    out = list(sampler)
    assert len(out) == len(sampler)
    return out


def test_each_rank_takes_its_share_of_the_same_global_batches(monkeypatch):
    single = _batches(World(), 23, 8, monkeypatch)               # 8, 8, 7
    ranks = [_batches(World(r, 2), 23, 8, monkeypatch) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == len(single) == 3
    for k, batch in enumerate(single):
        assert ranks[0][k] + ranks[1][k] == batch                 # nothing lost or repeated
    # a last batch that would give a rank fewer than two samples is left out on every rank
    assert [len(b) for b in _batches(World(1, 2), 19, 8, monkeypatch)] == [4, 4]
    assert len(_batches(World(), 19, 8, monkeypatch)) == 3


def test_a_batch_smaller_than_the_group_is_refused_in_a_sentence(monkeypatch):
    monkeypatch.setattr(distributed, "_WORLD", World(0, 4))
    with pytest.raises(ConfigError, match="batch size 2 cannot be split over 4 processes"):
        EpochBatches(10, 2, distributed=True)
    EpochBatches(10, 2, shuffle=False)  # evaluation loaders are not shared: allowed


def test_speech_length_buckets_share_their_batches(monkeypatch):
    from playground.speech.train import LengthBuckets

    lengths = [int(x) for x in torch.randint(100, 900, (41,), generator=torch.Generator()
                                             .manual_seed(0))]

    def batches(world):
        monkeypatch.setattr(distributed, "_WORLD", world)
        sampler = LengthBuckets(lengths, 8, seed=3)
        out = list(sampler)
        assert len(out) == len(sampler)
        return out

    single, r0, r1 = batches(World()), batches(World(0, 2)), batches(World(1, 2))
    assert [a + b for a, b in zip(r0, r1, strict=True)] == single[:len(r0)]
    assert take_share([1, 2, 3], World()) == [1, 2, 3]


def test_one_process_collectives_are_identities():
    world = World()
    values = {"val_loss": 0.5, "epoch": 3, "name": "x"}
    assert world.mean(values) == values
    assert world.any(True) and not world.any(False)
    assert world.gather(7) == [7] and world.broadcast("a") == "a"
    assert distributed.device_name("cuda:1") == "cuda:1"


# --------------------------------------------------------------------------------------------
# Real process groups
# --------------------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("PLAYGROUND_HOME", None)
    return env


def _torchrun(args: list[str], home: Path, nproc: int = 2, **kwargs) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={nproc}", "-m", "playground", *args, "--home", str(home),
           "--device", "cpu"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(), **kwargs)


def _finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _only_run(home: Path, task: str) -> Path:
    runs = sorted((home / "runs" / task).iterdir())
    assert len(runs) == 1, runs  # rank 0 alone wrote a run folder
    return runs[0]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(run / "checkpoints" / "last.safetensors"))


IMAGE = ["train", "image", "--data", "demo:digits", "--model", "small_cnn", "--epochs", "4",
         "--quiet"]


def test_torchrun_trains_stops_resumes_exactly_and_matches_one_process(tmp_path):
    # uninterrupted, 2 processes
    code, out, err = _finish(_torchrun(IMAGE, tmp_path / "a"))
    assert code == 0, err[-2000:]
    run_a = _only_run(tmp_path / "a", "image")
    info = json.loads((run_a / "run.json").read_text())
    assert info["world_size"] == 2 and info["global_batch_size"] == 16
    assert info["result"]["ranks_in_sync"] is True and info["status"] == "finished"
    assert out.strip().splitlines()[-1] == str(run_a)  # rank 0 alone printed
    assert out.count("class     precision") == 1

    # stopped (torchrun passes SIGTERM on) after the first epoch, then resumed under torchrun
    proc = _torchrun(IMAGE, tmp_path / "b", start_new_session=True)
    metrics = None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((tmp_path / "b" / "runs" / "image").glob("*/metrics.jsonl"))
        if found and '"epoch": 1' in found[0].read_text():
            metrics = found[0]
            break
        time.sleep(0.2)
    assert metrics is not None, "the first epoch never ended"
    proc.send_signal(signal.SIGTERM)
    _finish(proc)
    run_b = _only_run(tmp_path / "b", "image")
    stopped = json.loads((run_b / "run.json").read_text())
    assert stopped["status"] == "stopped", stopped["status"]
    assert 0 < stopped["result"]["steps"] < 360
    code, out, err = _finish(subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         "-m", "playground", "resume", str(run_b), "--home", str(tmp_path / "b"), "--device",
         "cpu", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_env()))
    assert code == 0, err[-2000:]
    done = json.loads((run_b / "run.json").read_text())
    assert done["status"] == "finished" and done["result"]["steps"] == 360
    a, b = _weights(run_a), _weights(run_b)
    assert max(float((a[k] - b[k]).abs().max()) for k in a) == 0.0

    # one process, the same global batch: within a point of validation accuracy
    single = subprocess.run(
        [sys.executable, "-m", "playground", *IMAGE, "--home", str(tmp_path / "c"),
         "--device", "cpu", "--threads", "1"], capture_output=True, text=True, env=_env(),
        timeout=240)
    assert single.returncode == 0, single.stderr[-2000:]
    one = json.loads((_only_run(tmp_path / "c", "image") / "run.json").read_text())
    assert one["world_size"] == 1 and one["result"]["steps"] == 360
    assert abs(one["result"]["val_accuracy"] - info["result"]["val_accuracy"]) <= 0.01


def test_torchrun_trains_a_language_model(tmp_path):
    code, out, err = _finish(_torchrun(
        ["train", "text", "--corpus", "demo:pydoc", "--n-layer", "1", "--n-embd", "32",
         "--n-head", "2", "--block-size", "32", "--batch-size", "8", "--max-iters", "20",
         "--eval-interval", "10", "--eval-iters", "2", "--sample-tokens", "0", "--quiet"],
        tmp_path))
    assert code == 0, err[-2000:]
    info = json.loads((_only_run(tmp_path, "text") / "run.json").read_text())
    assert info["world_size"] == 2 and info["result"]["ranks_in_sync"] is True
    assert info["result"]["steps"] == 20


def test_torchrun_bad_input_is_one_sentence_per_rank(tmp_path):
    code, out, err = _finish(_torchrun(IMAGE[:-1] + ["--batch-size", "1", "--quiet"],
                                       tmp_path))
    assert code != 0
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert any("batch size 1 cannot be split over 2 processes" in ln for ln in lines), err
    assert any(ln.startswith("error: rank 1:") for ln in lines)
    assert not (tmp_path / "runs" / "image").is_dir() or not any(
        (p / "checkpoints" / "last.safetensors").exists()
        for p in (tmp_path / "runs" / "image").iterdir())
