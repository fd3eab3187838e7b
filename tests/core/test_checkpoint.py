"""Checkpoints: safetensors round trips (tied weights too), atomic writes, safe torch.load."""

from __future__ import annotations

import json
import os

import pytest
import torch
from torch import nn

from playground.core import checkpoint as ck
from playground.core.errors import CheckpointError


class TiedLM(nn.Module):
    """An embedding whose weight is shared with the output head (as GPT-2 does)."""

    def __init__(self, vocab: int = 11, dim: int = 6) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, idx):
        return self.head(self.norm(self.embed(idx)))


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_save_load_weights_round_trip(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model(torch.randn(5, 3))  # updates the BatchNorm running stats (buffers)
    path = ck.save_weights(model, tmp_path / "sub" / "w.safetensors", {"step": 7, "epoch": "2"})
    assert path == tmp_path / "sub" / "w.safetensors" and path.is_file()
    assert _leftovers(path.parent) == []
    state = ck.load_weights(path)
    assert set(state) == set(model.state_dict())
    for k, v in model.state_dict().items():
        assert torch.equal(state[k], v), k
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    ck.load_into(fresh, path)
    x = torch.randn(4, 3)
    model.eval()
    fresh.eval()
    assert torch.equal(model(x), fresh(x))
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        assert fh.metadata() == {"step": "7", "epoch": "2"}


def test_save_weights_from_state_dict(tmp_path):
    state = {"a": torch.arange(6.0).view(2, 3).t(), "b": torch.tensor([1, 2], dtype=torch.int64)}
    ck.save_weights(state, tmp_path / "s.safetensors")  # non-contiguous input is fine
    back = ck.load_weights(tmp_path / "s.safetensors")
    assert torch.equal(back["a"], state["a"]) and back["b"].dtype == torch.int64


def test_tied_weights_round_trip(tmp_path):
    torch.manual_seed(1)
    model = TiedLM()
    with torch.no_grad():
        model.embed.weight.mul_(3.0)
    ck.save_weights(model, tmp_path / "tied.safetensors")
    fresh = TiedLM()
    assert fresh.head.weight is fresh.embed.weight
    ck.load_into(fresh, tmp_path / "tied.safetensors")
    assert fresh.head.weight is fresh.embed.weight  # still the same Parameter
    assert fresh.head.weight.data_ptr() == fresh.embed.weight.data_ptr()
    assert torch.equal(fresh.embed.weight, model.embed.weight)
    idx = torch.tensor([[1, 2, 3]])
    assert torch.equal(fresh(idx), model(idx))
    # training one step moves both "copies" together
    fresh(idx).sum().backward()
    with torch.no_grad():
        fresh.embed.weight -= 0.1 * fresh.embed.weight.grad
    assert torch.equal(fresh.head.weight, fresh.embed.weight)


def test_load_into_mismatch_is_checkpoint_error(tmp_path):
    ck.save_weights(nn.Linear(3, 4), tmp_path / "w.safetensors")
    with pytest.raises(CheckpointError, match="does not fit this model"):
        ck.load_into(nn.Linear(3, 5), tmp_path / "w.safetensors")


def test_load_weights_missing_and_garbage(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        ck.load_weights(tmp_path / "none.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"this is not a safetensors file at all" * 10)
    with pytest.raises(CheckpointError, match="could not be read.*damaged"):
        ck.load_weights(bad)
    bad.write_bytes(b"")
    with pytest.raises(CheckpointError):
        ck.load_weights(bad)
    # a real checkpoint cut short by a crash
    ck.save_weights(nn.Linear(30, 40), tmp_path / "w.safetensors")
    data = (tmp_path / "w.safetensors").read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged"):
        ck.load_into(nn.Linear(30, 40), bad)


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path):
    target = tmp_path / "last.safetensors"
    target.write_bytes(b"previous good checkpoint")

    def writer(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(b"half of the new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        ck.atomic_write(target, writer)
    assert target.read_bytes() == b"previous good checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.safetensors"]


def test_atomic_write_keeps_old_file_on_interrupt(tmp_path):
    target = tmp_path / "run.json"
    ck.atomic_write_json(target, {"status": "training"})

    def writer(tmp: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ck.atomic_write(target, writer)
    assert json.loads(target.read_text()) == {"status": "training"}
    assert os.listdir(tmp_path) == ["run.json"]


def test_atomic_write_text_and_json(tmp_path):
    p = ck.atomic_write_text(tmp_path / "a" / "b.txt", "héllo\n")
    assert p.read_text(encoding="utf-8") == "héllo\n"
    ck.atomic_write_json(tmp_path / "c.json", {"x": [1, 2], "path": tmp_path})
    assert json.loads((tmp_path / "c.json").read_text()) == {"x": [1, 2], "path": str(tmp_path)}
    ck.atomic_write_json(tmp_path / "c.json", {"x": 3})  # replaces
    assert json.loads((tmp_path / "c.json").read_text()) == {"x": 3}
    assert _leftovers(tmp_path) == []


def test_save_load_torch_optimizer_state(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    ck.save_torch({"optimizer": opt.state_dict(), "step": 1}, tmp_path / "optimizer.pt")
    back = ck.load_torch(tmp_path / "optimizer.pt")
    assert back["step"] == 1
    opt2 = torch.optim.AdamW(model.parameters(), lr=0.5)
    opt2.load_state_dict(back["optimizer"])
    assert opt2.param_groups[0]["lr"] == 0.01
    for k in opt.state:
        for name, value in opt.state[k].items():
            assert torch.equal(torch.as_tensor(opt2.state[k][name]), torch.as_tensor(value))


class Sneaky:
    """Any non-tensor object: weights_only=True must refuse to rebuild it."""

    def __init__(self) -> None:
        self.payload = "would run code on unpickle"


def test_load_torch_refuses_arbitrary_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"optimizer": Sneaky()}, path)
    with pytest.raises(CheckpointError, match="could not be read safely"):
        ck.load_torch(path)


def test_load_torch_garbage_and_missing(tmp_path):
    (tmp_path / "g.pt").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="damaged or not a Model Playground file"):
        ck.load_torch(tmp_path / "g.pt")
    with pytest.raises(CheckpointError):
        ck.load_torch(tmp_path / "missing.pt")
