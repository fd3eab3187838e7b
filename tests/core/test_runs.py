"""The run store: folder layout, run.json, metrics log, labels, listing, deleting, opening."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from playground import __version__
from playground.core import runs as runs_mod
from playground.core.errors import RunError
from playground.core.runs import Run, RunStore, open_run


def test_store_root_follows_playground_home(playground_home):
    store = RunStore()
    assert store.root == playground_home / "runs" and store.root.is_dir()
    other = RunStore(playground_home.parent / "elsewhere")
    assert other.root == playground_home.parent / "elsewhere" / "runs"


def test_create_layout(playground_home):
    store = RunStore()
    run = store.create("image", "my first/run", model="small_cnn",
                       config={"epochs": 3, "lr": 0.1}, dataset={"path": "/data/cats"},
                       extra={"note": "hello"})
    assert run.path.parent == playground_home / "runs" / "image"
    assert run.name.endswith("-my-first-run")
    assert time.strptime(run.name[:15], "%Y%m%d-%H%M%S")
    assert run.checkpoints.is_dir() and run.checkpoints == run.path / "checkpoints"
    assert run.last_checkpoint == run.checkpoints / "last.safetensors"
    assert run.best_checkpoint == run.checkpoints / "best.safetensors"
    assert run.optimizer_state == run.checkpoints / "optimizer.pt"
    info = json.loads((run.path / "run.json").read_text())
    assert info["task"] == "image" and info["name"] == "my first/run"
    assert info["model"] == "small_cnn" and info["config"] == {"epochs": 3, "lr": 0.1}
    assert info["dataset"] == {"path": "/data/cats"} and info["note"] == "hello"
    assert info["status"] == "created" and "created" in info
    versions = info["versions"]
    assert versions["playground"] == __version__ and "python" in versions
    assert "torch" in versions
    assert run.info() == info and run.task == "image"
    # no temporary files left by the atomic write
    assert sorted(p.name for p in run.path.iterdir()) == ["checkpoints", "run.json"]


def test_create_without_dataset_and_odd_name():
    run = RunStore().create("text", "...", model="gpt", config={})
    info = run.info()
    assert info["dataset"] == {} and run.name.endswith("-run")


def test_same_second_collision_gets_a_suffix(monkeypatch):
    monkeypatch.setattr(runs_mod.time, "strftime", lambda fmt, *a: "20240102-030405"
                        if fmt == "%Y%m%d-%H%M%S" else "2024-01-02T03:04:05")
    store = RunStore()
    a = store.create("image", "exp", model="m", config={})
    b = store.create("image", "exp", model="m", config={})
    c = store.create("image", "exp", model="m", config={})
    assert [a.name, b.name, c.name] == ["20240102-030405-exp", "20240102-030405-exp-2",
                                       "20240102-030405-exp-3"]
    assert all(r.info()["task"] == "image" for r in (a, b, c))


def test_update_and_status():
    run = RunStore().create("image", "s", model="m", config={})
    run.set_status("training", steps_per_epoch=7)
    info = run.info()
    assert info["status"] == "training" and info["steps_per_epoch"] == 7 and "updated" in info
    run.update(result={"acc": 0.5})
    assert run.info()["status"] == "training" and run.info()["result"] == {"acc": 0.5}


def test_log_metrics_appends_flushed_lines():
    run = RunStore().create("image", "m", model="m", config={})
    assert run.metrics() == []
    run.log_metrics(step=1, train_loss=2.0)
    # flushed: another reader sees the line at once, before anything else happens
    lines = (run.path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["train_loss"] == 2.0
    run.log_metrics(step=2, train_loss=1.5, time=123.0)
    rows = run.metrics()
    assert [r["step"] for r in rows] == [1, 2]
    assert isinstance(rows[0]["time"], float) and rows[1]["time"] == 123.0


def test_metrics_skips_a_truncated_last_line():
    run = RunStore().create("image", "m", model="m", config={})
    run.log_metrics(epoch=1, val_accuracy=0.5)
    run.log_metrics(epoch=2, val_accuracy=0.6)
    with open(run.path / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"epoch": 3, "val_acc')  # a crash mid-write
    rows = run.metrics()
    assert [r["epoch"] for r in rows] == [1, 2]


def test_labels_round_trip():
    run = RunStore().create("image", "l", model="m", config={})
    with pytest.raises(RunError, match="no labels.json"):
        run.labels()
    run.save_labels(["cat", "dog", "émeu"])
    assert run.labels() == ["cat", "dog", "émeu"]
    run.save_labels({"vocab_size": 65, "kind": "char"})
    assert run.labels() == {"vocab_size": 65, "kind": "char"}


def test_best_or_last():
    run = RunStore().create("image", "c", model="m", config={})
    with pytest.raises(RunError, match="no checkpoint yet"):
        run.best_or_last()
    run.last_checkpoint.write_bytes(b"x")
    assert run.best_or_last() == run.last_checkpoint
    run.best_checkpoint.write_bytes(b"x")
    assert run.best_or_last() == run.best_checkpoint


def _make(store: RunStore, task: str, name: str, stamp: str, monkeypatch) -> Run:
    monkeypatch.setattr(runs_mod.time, "strftime", lambda fmt, *a: stamp
                        if fmt == "%Y%m%d-%H%M%S" else "2024-01-01T00:00:00")
    return store.create(task, name, model="m", config={})


def test_list_newest_first_and_by_task(monkeypatch):
    store = RunStore()
    assert store.list() == [] and store.latest("image") is None
    a = _make(store, "image", "a", "20240101-000001", monkeypatch)
    b = _make(store, "text", "b", "20240101-000003", monkeypatch)
    c = _make(store, "image", "c", "20240101-000002", monkeypatch)
    (store.root / "image" / "not-a-run").mkdir()  # folders without run.json are ignored
    assert [r.name for r in store.list()] == [b.name, c.name, a.name]
    assert [r.name for r in store.list("image")] == [c.name, a.name]
    assert [r.name for r in store.list("text")] == [b.name]
    assert store.list("speech") == []
    assert store.latest("image").path == c.path


def test_delete_inside_store():
    store = RunStore()
    run = store.create("image", "gone", model="m", config={})
    run.log_metrics(step=1)
    store.delete(run)
    assert not run.path.exists() and store.list() == []


def test_delete_refuses_paths_outside_the_store(tmp_path):
    store = RunStore()
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "run.json").write_text("{}")
    with pytest.raises(RunError, match="not a run folder inside"):
        store.delete(Run(outside))
    # a sibling folder whose name merely starts with the store's path
    sibling = Path(str(store.root) + "-evil") / "image" / "x"
    sibling.mkdir(parents=True)
    with pytest.raises(RunError, match="not a run folder inside"):
        store.delete(Run(sibling))
    # the store itself, a task folder, and an escape through ".."
    run = store.create("image", "keep", model="m", config={})
    for target in (store.root, store.root / "image", store.root / "image" / ".." / ".."):
        with pytest.raises(RunError):
            store.delete(Run(target))
    assert outside.is_dir() and sibling.is_dir() and run.path.is_dir()


def test_open_run_ok():
    run = RunStore().create("translate", "t", model="m", config={})
    opened = open_run(str(run.path), "translate")
    assert opened.path == run.path and opened.task == "translate"
    assert open_run(run.path).path == run.path


def test_open_run_missing_folder(tmp_path):
    with pytest.raises(RunError, match=r"Run folder .*nowhere does not exist"):
        open_run(tmp_path / "nowhere")


def test_open_run_without_run_json(tmp_path):
    with pytest.raises(RunError, match=r"is not a run folder \(no run.json\)"):
        open_run(tmp_path)


def test_open_run_damaged_run_json(tmp_path):
    (tmp_path / "run.json").write_text('{"task": "ima')
    with pytest.raises(RunError, match="run.json is not valid JSON.*damaged"):
        open_run(tmp_path)
    (tmp_path / "run.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(RunError, match="damaged"):
        open_run(tmp_path)


def test_open_run_wrong_task():
    run = RunStore().create("image", "i", model="m", config={})
    with pytest.raises(RunError, match="is a 'image' run, not a 'text' run"):
        open_run(run.path, "text")
