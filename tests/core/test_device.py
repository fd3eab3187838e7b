"""Devices: what is present, what ``auto`` picks, clear errors, precision on the CPU."""

from __future__ import annotations

import pytest
import torch

from playground.core import device as dev
from playground.core.errors import DeviceError

NO_CUDA = not torch.cuda.is_available()
NO_MPS = not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


@pytest.mark.skipif(not (NO_CUDA and NO_MPS), reason="an accelerator is present")
def test_auto_is_cpu_here():
    assert dev.resolve_device("auto") == torch.device("cpu")
    assert dev.resolve_device(None) == torch.device("cpu")
    assert dev.resolve_device("  AUTO ") == torch.device("cpu")


def test_cpu():
    assert dev.resolve_device("cpu") == torch.device("cpu")
    assert dev.resolve_device("CPU").type == "cpu"


@pytest.mark.skipif(not NO_CUDA, reason="CUDA is present")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_is_a_clear_error(name):
    with pytest.raises(DeviceError, match=f"'{name}' was asked for but no CUDA GPU is available"
                                          ".*Choose 'auto' or 'cpu'"):
        dev.resolve_device(name)


def _fake_cuda(monkeypatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def test_cuda_index_checks(monkeypatch):
    _fake_cuda(monkeypatch, 2)
    assert dev.resolve_device("cuda") == torch.device("cuda", 0)
    assert dev.resolve_device("cuda:1") == torch.device("cuda", 1)
    assert dev.resolve_device("auto") == torch.device("cuda", 0)
    with pytest.raises(DeviceError, match="'cuda:2' does not exist.*2 CUDA device"):
        dev.resolve_device("cuda:2")
    for bad in ("cuda:x", "cuda0x", "cuda:-1", "cuda:1:2"):
        with pytest.raises(DeviceError, match=f"Unknown device '{bad}'"):
            dev.resolve_device(bad)


@pytest.mark.skipif(not NO_MPS, reason="MPS is present")
def test_mps_absent():
    with pytest.raises(DeviceError, match="MPS is not available"):
        dev.resolve_device("mps")


@pytest.mark.parametrize("name", ["gpu", "tpu", "cuda0x", "cpu:1", ""])
def test_unknown_strings(name):
    if name == "":
        assert dev.resolve_device(name).type in ("cpu", "cuda", "mps")  # empty means auto
        return
    with pytest.raises(DeviceError):
        dev.resolve_device(name)


def test_unknown_message():
    with pytest.raises(DeviceError, match="Unknown device 'gpu': use auto, cpu, cuda, cuda:N"):
        dev.resolve_device("gpu")


def test_list_devices_includes_cpu():
    found = dev.list_devices()
    assert found[-1].name == "cpu" and "threads" in found[-1].title
    names = [d.name for d in found]
    assert names.count("cpu") == 1
    if NO_CUDA:
        assert not any(n.startswith("cuda") for n in names)


def test_memory_in_use_on_cpu():
    assert dev.memory_in_use(torch.device("cpu")) == (0, 0)


def test_precision_on_cpu_is_fp32_and_autocast_is_a_no_op():
    cpu = torch.device("cpu")
    for enabled in (True, False):
        p = dev.Precision(cpu, enabled)
        assert p.name == "fp32" and p.dtype is None and p.scaler is None
        lin = torch.nn.Linear(3, 2)
        with p.autocast():
            y = lin(torch.randn(4, 3))
            assert not torch.is_autocast_enabled("cpu")
        assert y.dtype == torch.float32


def test_precision_backward_and_step_with_clip():
    torch.manual_seed(0)
    p = dev.Precision(torch.device("cpu"))
    lin = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(lin.parameters(), lr=1.0)
    before = lin.weight.detach().clone()
    loss = (lin(torch.full((4, 3), 100.0)) ** 2).mean()
    p.backward(loss)
    assert lin.weight.grad is not None
    p.step(opt, list(lin.parameters()), clip=0.5)
    total = torch.cat([(lin.weight - before).flatten()]).norm()
    assert total <= 0.5 + 1e-5  # with lr 1 the step is the clipped gradient


def test_set_cpu_threads():
    n = torch.get_num_threads()
    try:
        dev.set_cpu_threads(1)
        assert torch.get_num_threads() == 1
        dev.set_cpu_threads(0)  # 0 leaves it alone
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(n)
