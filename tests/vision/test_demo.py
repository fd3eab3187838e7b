"""Built-in demo data and load_data."""

from __future__ import annotations

import urllib.error
import urllib.request

import numpy as np
import pytest

from playground.core.errors import DatasetError
from playground.core.jobs import CollectingContext
from playground.vision.config import ImageTrainConfig
from playground.vision.demo import (
    DEMOS,
    SHAPE_CLASSES,
    apply_recipe,
    datasets_dir,
    load_data,
    make_shapes,
    render_shape,
    write_shapes_folder,
)


def test_demos_listed_with_titles():
    assert set(DEMOS) == {"shapes", "digits", "mnist", "fashion-mnist", "cifar10"}
    assert all(d.title and d.description for d in DEMOS.values())
    assert not DEMOS["shapes"].download and not DEMOS["digits"].download
    assert DEMOS["mnist"].download


def test_recipes_apply_to_demos_only():
    base = ImageTrainConfig()
    digits = apply_recipe(base, "demo:digits")
    assert digits.image_size == 32 and digits.augment_flip is False
    assert digits.model == base.model
    assert apply_recipe(base, "/some/folder") is base


def test_shapes_are_deterministic_and_balanced():
    a, la, classes = make_shapes(per_class=6, size=32, seed=3)
    b, lb, _ = make_shapes(per_class=6, size=32, seed=3)
    c, _, _ = make_shapes(per_class=6, size=32, seed=4)
    assert classes == list(SHAPE_CLASSES) and len(classes) >= 4
    assert a.shape == (30, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert not np.array_equal(a, c)
    assert np.bincount(la).tolist() == [6] * 5
    assert len({img.tobytes() for img in a}) == 30     # all different
    assert a.std() > 30                                   # varied colours


def test_render_shape_mask_covers_the_shape():
    rng = np.random.default_rng(0)
    img, mask = render_shape("square", rng, 64, with_mask=True)
    assert img.shape == (64, 64, 3) and mask.dtype == bool
    assert 0.03 < mask.mean() < 0.6
    inside = img[mask].astype(float).mean(axis=0)
    outside = img[~mask].astype(float).mean(axis=0)
    assert np.abs(inside - outside).mean() > 30  # the shape stands out from the background
    with pytest.raises(ValueError):
        render_shape("hexagon", rng)


def test_write_shapes_folder(tmp_path):
    root = write_shapes_folder(tmp_path / "s", per_class=2, size=16)
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    assert len(names) == 10 and names[0] == "circle/circle_000.png"


def test_load_shapes_split_is_stratified():
    cfg = ImageTrainConfig(image_size=16, val_fraction=0.2, seed=1)
    ctx = CollectingContext()
    data = load_data("demo:shapes", cfg, ctx)
    assert data.classes == list(SHAPE_CLASSES)
    assert len(data.train) == 1200 and len(data.val) == 300
    assert np.bincount(data.val.labels).tolist() == [60] * 5
    assert data.counts() == dict.fromkeys(SHAPE_CLASSES, 300)
    assert data.description["source"] == "demo" and "split" in data.description
    x, y = data.train[0]
    assert tuple(x.shape) == (3, 16, 16)
    assert len(data.thumbnails) == 40
    assert data.normalization == {"mean": [0.5] * 3, "std": [0.5] * 3}


def test_load_digits():
    data = load_data("demo:digits", ImageTrainConfig(image_size=16))
    assert data.classes == [str(d) for d in range(10)]
    assert len(data.train) + len(data.val) == 1797
    img, label = data.train.raw(0)
    assert img.shape == (32, 32, 3) and 0 <= label < 10


def test_unknown_demo_and_empty_spec():
    with pytest.raises(DatasetError, match="Unknown demo data 'nope'.*demo:shapes"):
        load_data("demo:nope", ImageTrainConfig())
    with pytest.raises(DatasetError, match="No data chosen"):
        load_data("  ", ImageTrainConfig())


def test_folder_with_own_validation(tmp_path):
    write_shapes_folder(tmp_path / "d" / "train", per_class=3, size=16)
    write_shapes_folder(tmp_path / "d" / "val", per_class=1, size=16, seed=9)
    data = load_data(str(tmp_path / "d"), ImageTrainConfig(image_size=16))
    assert len(data.train) == 15 and len(data.val) == 5
    assert "own split" in data.split
    assert data.description["layout"] == "train_val"


def test_download_offline_message_names_file_and_folder(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    ctx = CollectingContext()
    with pytest.raises(DatasetError) as info:
        load_data("demo:mnist", ImageTrainConfig(), ctx)
    text = str(info.value)
    folder = datasets_dir() / "MNIST" / "raw"
    assert "train-images-idx3-ubyte.gz" in text
    assert str(folder) in text
    assert "offline" in text
    assert not list(folder.glob("*.part"))  # no half-written file left behind
