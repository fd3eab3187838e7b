"""Image decoding, colour-mode conversion, folder scanning, transforms and thumbnails."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playground.core.errors import DatasetError, ImageDecodeError
from playground.vision.config import ImageTrainConfig
from playground.vision.data import (
    IMAGE_EXTENSIONS,
    ArrayImageDataset,
    ImageFileDataset,
    as_rgb_array,
    build_transforms,
    load_image,
    scan_folder,
    thumbnails,
)
from playground.vision.demo import write_shapes_folder


def _noise_image(size: int = 64, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), "RGB")


def _encoded(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# bad files
# --------------------------------------------------------------------------------------------
def test_extensions_are_lower_case_suffixes():
    assert {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"} == IMAGE_EXTENSIONS


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageDecodeError, match=r"empty.jpg: empty file \(0 bytes\)"):
        load_image(path)


def test_text_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n" * 20)
    with pytest.raises(ImageDecodeError, match="notes.jpg: not an image"):
        load_image(path)


@pytest.mark.parametrize("fmt,suffix", [("JPEG", ".jpg"), ("PNG", ".png")])
def test_truncated_file(tmp_path, fmt, suffix):
    data = _encoded(_noise_image(), fmt)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError, match=f"cut{suffix}: (truncated|corrupt)"):
        load_image(path)


def test_corrupt_png_data(tmp_path):
    data = bytearray(_encoded(_noise_image(), "PNG"))
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)  # zero out part of the compressed pixel data
    path = tmp_path / "broken.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageDecodeError, match="broken.png"):
        load_image(path)


def test_decompression_bomb_is_refused(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (9000, 8000)).save(path)  # 72 MP of zeros: a few kB on disk
    assert path.stat().st_size < 100_000
    with pytest.raises(ImageDecodeError, match="bomb.png: .*megapixels"):
        load_image(path)


def test_a_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageDecodeError, match="is a folder"):
        load_image(tmp_path)


# --------------------------------------------------------------------------------------------
# colour modes
# --------------------------------------------------------------------------------------------
def _roundtrip(tmp_path: Path, img: Image.Image, name: str, **kwargs) -> np.ndarray:
    path = tmp_path / name
    img.save(path, **kwargs)
    out = load_image(path)
    assert out.mode == "RGB"
    assert out.size == img.size
    return np.asarray(out).astype(int)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    arr = _roundtrip(tmp_path, Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "cmyk.jpg",
                     quality=95)
    r, g, b = arr[8, 8]
    assert r > 200 and g < 60 and b < 60  # pure red


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    gray = np.full((8, 8), 32768, np.uint16)
    gray[0, 0] = 65535
    img = Image.fromarray(gray)
    assert img.mode.startswith("I;16")
    arr = _roundtrip(tmp_path, img, "sixteen.png")
    assert abs(arr[4, 4, 0] - 128) <= 1
    assert tuple(arr[0, 0]) == (255, 255, 255)
    assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()


def test_32_bit_integer_image_is_scaled(tmp_path):
    img = Image.fromarray(np.full((8, 8), 16384, np.int32), "I")
    arr = np.asarray(load_image(img)).astype(int)
    assert abs(arr[0, 0, 0] - 64) <= 1


def test_palette_with_transparency_on_white(tmp_path):
    img = Image.new("P", (8, 8), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.putpixel((0, 0), 1)
    img.info["transparency"] = 0
    arr = _roundtrip(tmp_path, img, "palette.png", transparency=0)
    assert tuple(arr[0, 0]) == (255, 0, 0)
    assert tuple(arr[4, 4]) == (255, 255, 255)  # transparent -> white, not black


def test_rgba_and_la_composited_on_white(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:4, :, 3] = 255          # top half opaque red, bottom half fully transparent
    arr = _roundtrip(tmp_path, Image.fromarray(rgba, "RGBA"), "alpha.png")
    assert tuple(arr[0, 0]) == (255, 0, 0)
    assert tuple(arr[7, 7]) == (255, 255, 255)
    la = Image.merge("LA", [Image.new("L", (8, 8), 0), Image.new("L", (8, 8), 128)])
    arr = _roundtrip(tmp_path, la, "la.png")
    assert abs(arr[0, 0, 0] - 127) <= 1  # black at half opacity over white


@pytest.mark.parametrize("mode,value,expected", [("L", 77, 77), ("1", 1, 255)])
def test_grayscale_modes(tmp_path, mode, value, expected):
    arr = _roundtrip(tmp_path, Image.new(mode, (8, 8), value), f"gray_{mode}.png")
    assert tuple(arr[3, 3]) == (expected,) * 3


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    arr = np.asarray(load_image(path)).astype(int)
    assert arr[0, 0, 0] > 200 and arr[0, 0, 2] < 60


def test_arrays_and_bytes():
    gray = np.full((5, 6), 9, np.uint8)
    assert as_rgb_array(gray).shape == (5, 6, 3)
    assert np.asarray(load_image(gray)).shape == (5, 6, 3)
    floats = np.full((4, 4, 3), 0.5, np.float32)
    assert as_rgb_array(floats)[0, 0, 0] == 128
    with pytest.raises(ImageDecodeError):
        as_rgb_array(np.zeros((4, 4, 2), np.uint8))
    png = _encoded(_noise_image(8), "PNG")
    assert load_image(png).size == (8, 8)


# --------------------------------------------------------------------------------------------
# scan_folder
# --------------------------------------------------------------------------------------------
def _write(path: Path, img: Image.Image | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (img or _noise_image(16)).save(path)
    return path


def test_scan_class_folders(tmp_path):
    root = write_shapes_folder(tmp_path / "shapes", per_class=4, size=24)
    (root / "circle" / ".hidden.png").write_bytes(b"")         # hidden: ignored
    (root / ".thumbs").mkdir()                                 # hidden folder: ignored
    (root / "circle" / "readme.txt").write_text("hello")       # other kind: counted
    (root / "star" / "broken.jpg").write_text("not an image")  # unreadable: skipped
    _write(root / "square" / "nested" / "deep.png")            # nested: included
    index = scan_folder(root)
    assert index.layout == "class_folders"
    assert index.classes == ["circle", "cross", "square", "star", "triangle"]
    assert index.counts() == {"circle": 4, "cross": 4, "square": 5, "star": 4, "triangle": 4}
    assert index.val is None
    assert [Path(p).name for p, _ in index.skipped] == ["broken.jpg"]
    assert "not an image" in index.skipped[0][1]
    assert index.ignored == {".txt": 1}
    desc = index.describe()
    assert desc["train_images"] == 21 and desc["skipped"] == 1
    assert desc["skipped_examples"][0][0] == str(Path("star") / "broken.jpg")
    labels = {index.classes[label] for _, label in index.train}
    assert labels == set(index.classes)


def test_scan_train_val_layout(tmp_path):
    for split, n in (("train", 3), ("valid", 2)):
        for cls in ("cat", "dog"):
            for i in range(n):
                _write(tmp_path / split / cls / f"{i}.png")
    index = scan_folder(tmp_path)
    assert index.layout == "train_val"
    assert index.classes == ["cat", "dog"]
    assert len(index.train) == 6 and len(index.val) == 4
    assert index.counts("val") == {"cat": 2, "dog": 2}
    assert index.counts() == {"cat": 5, "dog": 5}


def test_scan_val_class_missing_from_train(tmp_path):
    for cls in ("cat", "dog"):
        _write(tmp_path / "train" / cls / "a.png")
    _write(tmp_path / "val" / "bird" / "a.png")
    with pytest.raises(DatasetError, match="'bird'"):
        scan_folder(tmp_path)


def test_scan_missing_and_file(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        scan_folder(tmp_path / "nope")
    image = _write(tmp_path / "photo.png")
    with pytest.raises(DatasetError, match="photo.png is a file, not a folder.*Predict"):
        scan_folder(image)


def test_scan_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match="is empty"):
        scan_folder(tmp_path)


def test_scan_only_other_files(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.csv").write_text("x")
    with pytest.raises(DatasetError, match=r"no images: found only other files \(.*\.csv"):
        scan_folder(tmp_path)
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        (tmp_path / cls / "x.wav").write_bytes(b"RIFF")
    with pytest.raises(DatasetError, match=r"No images found.*2 \.wav"):
        scan_folder(tmp_path)


def test_scan_images_without_class_folders(tmp_path):
    _write(tmp_path / "a.png")
    _write(tmp_path / "b.png")
    with pytest.raises(DatasetError, match="no class sub-folders"):
        scan_folder(tmp_path)


def test_scan_one_class(tmp_path):
    _write(tmp_path / "cats" / "a.png")
    with pytest.raises(DatasetError, match="only one class"):
        scan_folder(tmp_path)


def test_scan_empty_class(tmp_path):
    _write(tmp_path / "cats" / "a.png")
    (tmp_path / "dogs").mkdir()
    with pytest.raises(DatasetError, match="'dogs'.*no images"):
        scan_folder(tmp_path)


def test_scan_class_all_unreadable(tmp_path):
    _write(tmp_path / "cats" / "a.png")
    for i in range(5):
        (tmp_path / "dogs" / f"d{i}.jpg").parent.mkdir(exist_ok=True)
        (tmp_path / "dogs" / f"d{i}.jpg").write_bytes(b"" if i == 0 else b"junk")
    with pytest.raises(DatasetError) as info:
        scan_folder(tmp_path)
    text = str(info.value)
    assert "class 'dogs'" in text
    assert "d0.jpg (empty file (0 bytes))" in text
    assert "and 2 more" in text


# --------------------------------------------------------------------------------------------
# datasets, transforms, thumbnails
# --------------------------------------------------------------------------------------------
def test_transforms_train_and_eval():
    import torch

    cfg = ImageTrainConfig(image_size=24, augment_crop=True, augment_rotation=True,
                           augment_color=True)
    train, val = build_transforms(cfg, True), build_transforms(cfg, False)
    img = np.asarray(_noise_image(40))
    a, b = val(img), val(Image.fromarray(img))
    assert a.shape == (3, 24, 24) and a.dtype == torch.float32
    assert torch.equal(a, b)  # eval is deterministic and accepts arrays and PIL alike
    assert float(a.min()) >= -1.0 and float(a.max()) <= 1.0  # 0.5 / 0.5 normalisation
    torch.manual_seed(0)
    t1, t2 = train(img), train(img)
    assert t1.shape == (3, 24, 24) and not torch.equal(t1, t2)
    names = [type(t).__name__ for t in train.transforms]
    assert {"RandomResizedCrop", "RandomHorizontalFlip", "RandomRotation",
            "ColorJitter"} <= set(names)
    assert "RandomHorizontalFlip" not in [type(t).__name__ for t in val.transforms]
    pre = build_transforms(ImageTrainConfig(image_size=24, pretrained=True), False)
    white = pre(np.full((8, 8, 3), 255, np.uint8))
    assert abs(float(white[0, 0, 0]) - (1 - 0.485) / 0.229) < 1e-4  # ImageNet statistics
    gray = val(np.full((8, 8), 255, np.uint8))
    assert gray.shape == (3, 24, 24)


def test_datasets_and_thumbnails(tmp_path):
    root = write_shapes_folder(tmp_path / "s", per_class=3, size=20)
    index = scan_folder(root)
    files = ImageFileDataset(index.train, index.classes,
                             build_transforms(ImageTrainConfig(image_size=16), False))
    x, y = files[0]
    assert tuple(x.shape) == (3, 16, 16) and y == 0
    sub = files.subset([0, 3])
    assert len(sub) == 2 and sub.labels == [0, 1]
    thumbs = thumbnails(index, per_class=2, size=32)
    assert len(thumbs) == 10
    assert [c for c, _ in thumbs[:3]] == ["circle", "circle", "cross"]
    assert all(a.shape == (32, 32, 3) and a.dtype == np.uint8 for _, a in thumbs)
    arrays = ArrayImageDataset(np.zeros((6, 10, 10), np.uint8), [0, 1, 2, 0, 1, 2],
                               ["a", "b", "c"])
    thumbs = thumbnails(arrays, per_class=1, size=12)
    assert [c for c, _ in thumbs] == ["a", "b", "c"]
    assert thumbs[0][1].shape == (12, 12, 3)
