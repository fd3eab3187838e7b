"""One way to load a run: validated run folder, checkpoint choice, config checked against the
checkpoint's header before anything is allocated, memory estimate, one shared thread-safe
cache reloaded when the run is retrained."""

from __future__ import annotations

import os
import threading
import time

import pytest
import torch
from torch import nn

from playground.core import loader
from playground.core.checkpoint import read_header, save_weights
from playground.core.errors import CheckpointError, ConfigError, DeviceError, RunError
from playground.core.loader import ModelCache, RunSpec, open_for_inference
from playground.core.runs import RunStore


def _mlp(width: int = 8, layers: int = 2) -> nn.Module:
    return nn.Sequential(*[nn.Linear(width, width) for _ in range(layers)])


def _run(width=8, layers=2, best=True, last=True):
    run = RunStore().create("image", "r", model="mlp", config={"width": width, "layers": layers})
    model = _mlp(width, layers)
    if best:
        save_weights(model, run.best_checkpoint)
    if last:
        save_weights(model, run.last_checkpoint)
    return run


def _build(spec: RunSpec, device):
    cfg = spec.config
    return loader.build_model(spec, lambda: _mlp(cfg["width"], cfg["layers"]), device)


# -- header ------------------------------------------------------------------------------------
def test_read_header_reads_shapes_without_loading(tmp_path):
    path = save_weights({"w": torch.zeros(3, 5), "n": torch.zeros(2, dtype=torch.int64)},
                        tmp_path / "a.safetensors", {"step": "7"})
    header = read_header(path)
    assert header.tensors["w"].shape == (3, 5) and header.tensors["w"].dtype == "F32"
    assert header.tensors["n"].nbytes == 16 and header.nbytes == 60 + 16
    assert header.metadata == {"step": "7"}


@pytest.mark.parametrize(("data", "message"), [
    (b"", "only 0 bytes"),
    (b"\x01\x00", "only 2 bytes"),
    ((10**9).to_bytes(8, "little") + b"{}", "header says"),
    ((4).to_bytes(8, "little") + b"nope", "not JSON"),
    ((2).to_bytes(8, "little") + b"[]", "not a JSON object"),
    ((39).to_bytes(8, "little") + b'{"w":{"dtype":"F32","shape":"3"}}      ', "described wrong"),
    ((60).to_bytes(8, "little")
     + b'{"w":{"dtype":"F32","shape":[1000],"data_offsets":[0,4000]}}', "does not fit"),
])
def test_read_header_damaged(tmp_path, data, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=message):
        read_header(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_header(tmp_path / "missing.safetensors")


# -- opening and checkpoint choice -----------------------------------------------------------
def test_open_for_inference_and_checkpoint_choice():
    run = _run(best=False)
    spec = open_for_inference(run.path, "image")
    assert spec.which == "last" and spec.checkpoint == run.last_checkpoint  # best -> last
    assert spec.task == "image" and spec.model == "mlp" and spec.config["width"] == 8
    assert open_for_inference(run.path, checkpoint="last").which == "last"
    only_best = _run(last=False)
    with pytest.raises(RunError, match="no last checkpoint; use its best"):
        open_for_inference(only_best.path, checkpoint="last")
    with pytest.raises(ConfigError, match="'best' or 'last'"):
        open_for_inference(run.path, checkpoint="newest")
    with pytest.raises(RunError, match="not a 'text' run"):
        open_for_inference(run.path, "text")
    empty = _run(best=False, last=False)
    with pytest.raises(RunError, match="no trained model yet.*stopped before"):
        open_for_inference(empty.path)
    empty.set_status("training", pid=os.getpid())
    with pytest.raises(RunError, match="no trained model yet.*first evaluation"):
        open_for_inference(empty.path)


# -- checks before building --------------------------------------------------------------------
def test_build_loads_weights_in_eval_mode():
    run = _run()
    model = _build(open_for_inference(run.path), torch.device("cpu"))
    assert not model.training
    from playground.core.checkpoint import load_weights

    saved = load_weights(run.best_checkpoint)
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())


def test_config_that_disagrees_with_checkpoint_is_refused_before_building(monkeypatch):
    run = _run(width=8)
    run.update(config={"width": 4096, "layers": 48})  # a ~3 GB model, if it were built
    built = []
    real = _mlp

    def counting(width, layers):
        built.append(torch.empty(0).device.type)
        return real(width, layers)

    spec = open_for_inference(run.path)
    with pytest.raises(CheckpointError, match=r"'0.weight' is 4096×4096, but the checkpoint's "
                                              r"is 8×8 \(and \d+ more\): the run folder is "
                                              "damaged"):
        loader.build_model(spec, lambda: counting(4096, 48), "cpu")
    assert built == ["meta"]  # built once, on the meta device only
    run.update(config={"width": 8, "layers": 3})
    with pytest.raises(CheckpointError, match="2 weight.*checkpoint does not have.*'2.weight'"):
        _build(open_for_inference(run.path), "cpu")
    run.update(config={"width": 8, "layers": 1})
    with pytest.raises(CheckpointError, match="checkpoint has 2 weight.*'1\\."):
        _build(open_for_inference(run.path), "cpu")


def test_hint_names_the_setting():
    run = _run(width=8)
    spec = open_for_inference(run.path)
    hint = loader.ConfigHint("n_embd", 8192, "0.weight", 1, "wide")
    with pytest.raises(CheckpointError, match="run.json says n_embd 8192 but the checkpoint's "
                                              "weights are 8 wide: the run folder is damaged"):
        loader.build_model(spec, lambda: _mlp(8), "cpu", hints=[hint])


def test_model_too_large_for_memory_is_refused():
    run = _run(width=8)
    spec = open_for_inference(run.path)
    with pytest.raises(DeviceError, match=r"needs about \d+ MB of memory, but only 0 MB is free"):
        loader.build_model(spec, lambda: _mlp(8), "cpu", available=lambda where: 1000)
    assert loader.build_model(spec, lambda: _mlp(8), "cpu", available=lambda where: None)
    assert loader.available_memory("cpu") is None or loader.available_memory("cpu") > 0


# -- the cache ---------------------------------------------------------------------------------
def test_load_reuses_until_the_checkpoint_changes():
    run = _run()
    cache = ModelCache()
    a = loader.load(run.path, "image", _build, cache=cache)
    assert loader.load(str(run.path), "image", _build, cache=cache) is a
    assert loader.load(run.path, "image", _build, checkpoint="last", cache=cache) is not a
    assert len(cache) == 2
    time.sleep(0.01)
    save_weights(_mlp(), run.best_checkpoint)  # retrained: same size, newer file
    b = loader.load(run.path, "image", _build, cache=cache)
    assert b is not a and len(cache) == 2
    assert cache.discard_run(run.path) == 2 and len(cache) == 0


def test_load_uses_the_shared_cache_by_default():
    run = _run()
    loader.MODELS.clear()
    model = loader.load(run.path, "image", _build)
    assert loader.load(run.path, "image", _build) is model and len(loader.MODELS) == 1
    loader.MODELS.clear()


def test_damaged_run_is_reported_not_served_from_cache():
    run = _run()
    cache = ModelCache()
    loader.load(run.path, "image", _build, cache=cache)
    (run.path / "run.json").write_text("[]", encoding="utf-8")
    with pytest.raises(RunError, match="run.json should hold an object"):
        loader.load(run.path, "image", _build, cache=cache)


def test_cache_is_thread_safe_and_loads_once():
    cache = ModelCache(max_items=2)
    calls = []
    gate = threading.Event()

    def slow():
        calls.append(1)
        gate.wait(1)
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_load("k", 1, slow)))
               for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    gate.set()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1
    cache.get_or_load("a", 1, object)
    cache.get_or_load("b", 1, object)
    assert cache.keys() == ["a", "b"] and cache.peek("k") is None  # least recently used out

    def broken():
        raise RunError("bad")

    with pytest.raises(RunError):
        cache.get_or_load("c", 1, broken)
    assert cache.peek("c") is None
