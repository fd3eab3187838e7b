"""Export of the torchvision image models the registry offers besides ResNet-18 (tested in
test_export_image.py): the Vision Transformer and the other CNNs, each trained one step at a
tiny size. ViT-B/16 needs 224 px and has 86 M weights, so here the registry's vit_b_16 entry
builds torchvision's own ``VisionTransformer`` with one thin layer (the same class, patch
embedding, class token and attention blocks; the full size is exported by
benchmarks/bench_export.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.export.helpers import exported, names, train


@pytest.fixture(scope="module")
def few_shapes(tmp_path_factory) -> Path:
    from playground.vision.demo import write_shapes_folder

    return write_shapes_folder(tmp_path_factory.mktemp("shapes"), per_class=4, size=32)


@pytest.fixture
def thin_vit(monkeypatch):
    """The registry's vit_b_16 as a one-layer, 32-wide VisionTransformer at 224 px."""
    import torchvision.models as tvm
    from torchvision.models.vision_transformer import VisionTransformer

    real = tvm.get_model

    def get_model(name, **kwargs):
        if name == "vit_b_16":
            return VisionTransformer(image_size=224, patch_size=16, num_layers=1, num_heads=2,
                                     hidden_dim=32, mlp_dim=64)
        return real(name, **kwargs)

    monkeypatch.setattr(tvm, "get_model", get_model)


def test_vision_transformer_exports_to_onnx_and_pt2(few_shapes, tmp_path, thin_vit):
    run = train(["image", "--data", str(few_shapes), "--model", "vit_b_16", "--image-size",
                 "224", "--epochs", "1", "--batch-size", "4", "--max-steps", "1",
                 "--val-fraction", "0.25", "--name", "vit", "--threads", "1"],
                tmp_path / "home")
    result = exported(run, "onnx", tmp_path / "onnx")
    assert result["model"] == "vit_b_16"
    assert names(result) == {"model.onnx", "model.json", "predict.py"}
    p = result["parity"]
    assert "validation images of" in p["source"] and p["top1_agreement"] == 1.0
    assert names(exported(run, "pt2", tmp_path / "pt2")) == {"model.pt2", "model.json"}


@pytest.mark.parametrize(("model", "size"), [("mobilenet_v3_small", 16),
                                             ("efficientnet_b0", 16), ("googlenet", 32),
                                             ("alexnet", 64)])
def test_other_torchvision_cnns_export(few_shapes, tmp_path, model, size):
    run = train(["image", "--data", str(few_shapes), "--model", model, "--image-size",
                 str(size), "--epochs", "1", "--batch-size", "4", "--max-steps", "1",
                 "--val-fraction", "0.25", "--name", model, "--threads", "1"],
                tmp_path / "home")
    result = exported(run, "onnx", tmp_path / "onnx")
    assert result["model"] == model and result["parity"]["top1_agreement"] == 1.0
