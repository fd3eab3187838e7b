"""Pretrained downloads are verified against the hash their file name carries (torch hub's
convention): a bad download is deleted and reported; a good one is kept."""

from __future__ import annotations

import hashlib
import os

import pytest

from playground.core.download import download_file, hash_prefix_from_name
from playground.core.errors import WeightsUnavailable
from playground.core.jobs import CollectingContext


def _serve(tmp_path, name: str, content: bytes):
    src = tmp_path / "server" / name
    src.parent.mkdir(exist_ok=True)
    src.write_bytes(content)
    return src


def test_hash_prefix_from_name():
    assert hash_prefix_from_name("resnet18-f37072fd.pth") == "f37072fd"
    assert hash_prefix_from_name("/x/efficientnet_b0_rwightman-7f5810bc.pth") == "7f5810bc"
    assert hash_prefix_from_name("https://h/models/vit_b_16-c867db91.pth") == "c867db91"
    for name in ("wav2vec2_fairseq_base_ls960_asr_ls960.pth", "cifar-10-python.tar.gz",
                 "train-images-idx3-ubyte.gz", "my-data.zip", "w.pth"):
        assert hash_prefix_from_name(name) is None


def test_a_download_that_does_not_match_its_name_is_deleted(tmp_path):
    src = _serve(tmp_path, "resnet18-f37072fd.pth", os.urandom(5000))  # wrong content
    dest = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    with pytest.raises(WeightsUnavailable) as info:
        download_file(src.as_uri(), dest, CollectingContext(), what="pretrained weights")
    msg = str(info.value)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    assert "pretrained weights resnet18-f37072fd.pth is corrupt" in msg
    assert f"begins {digest[:8]}, not f37072fd" in msg
    assert str(dest.parent) in msg and "deleted" in msg
    assert list(dest.parent.iterdir()) == []  # neither the file nor a .part is left


def test_a_download_that_matches_its_name_is_kept(tmp_path):
    content = os.urandom(5000)
    prefix = hashlib.sha256(content).hexdigest()[:8]
    src = _serve(tmp_path, f"tiny-{prefix}.pth", content)
    dest = tmp_path / "cache" / src.name
    assert download_file(src.as_uri(), dest).read_bytes() == content


def test_the_url_name_is_checked_when_the_destination_has_none(tmp_path):
    src = _serve(tmp_path, "weights-0123abcd.pth", b"not those weights")
    dest = tmp_path / "cache" / "weights.pth"
    with pytest.raises(WeightsUnavailable, match="not 0123abcd"):
        download_file(src.as_uri(), dest)
    assert not dest.exists()
    assert download_file(src.as_uri(), dest, check_hash=False).read_bytes() == src.read_bytes()


def test_pretrained_image_weights_are_verified(tmp_path, monkeypatch):
    """The image task's pretrained path: a bad file served under torchvision's name fails
    with the checksum message and leaves the torch cache empty."""
    import torch

    from playground.vision import models

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    src = _serve(tmp_path, "resnet18-f37072fd.pth", b"an html error page")
    monkeypatch.setattr(models, "pretrained_url", lambda name: src.as_uri())
    with pytest.raises(WeightsUnavailable, match="resnet18-f37072fd.pth is corrupt"):
        models.build_model("resnet18", 3, pretrained=True, image_size=32)
    assert list((tmp_path / "hub" / "checkpoints").iterdir()) == []
