"""Built-in data: generated shapes, scikit-learn's digits, and three classic downloads.

``demo:shapes`` and ``demo:digits`` need no network: shapes are drawn here (deterministic from
a seed), digits ship with scikit-learn. ``demo:mnist``, ``demo:fashion-mnist`` and
``demo:cifar10`` are downloaded once into ``<home>/cache/datasets`` from torchvision's
mirrors, with progress events; offline the error names the file and the folder to put it in.

:func:`load_data` turns a spec (a folder path or ``demo:NAME``) into train / validation
datasets with the configured transforms.

Recipes (what the accuracy benchmark uses; see ``benchmarks/bench_image_accuracy.py``):
small_cnn, image size 32, batch 64, AdamW 3e-3 with a cosine schedule, no flips for digits.
Shapes reach >= 98 % and Digits >= 97 % validation accuracy in well under a minute on two CPU
cores with the recipe's epochs.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from playground.core import events as ev
from playground.core.errors import DatasetError
from playground.core.jobs import JobContext
from playground.vision.data import (
    ArrayImageDataset,
    ImageFileDataset,
    ImageFolderIndex,
    build_transforms,
    normalization,
    scan_folder,
    thumbnails,
)

SHAPE_CLASSES = ("circle", "square", "triangle", "star", "cross")
SHAPE_MIN_CONTRAST = 100.0  # least difference of mean brightness, shape vs background
SHAPE_NOISE = 12.0          # standard deviation of the pixel noise (0-255 scale)
SHAPE_TILT = 40.0           # largest brightness change of the background gradient


@dataclass(frozen=True)
class Demo:
    name: str
    title: str
    description: str
    download: bool                      # needs a one-time download
    recipe: dict[str, Any] = field(default_factory=dict)  # suggested ImageTrainConfig values


DEMOS: dict[str, Demo] = {
    "shapes": Demo("shapes", "Shapes (generated)",
                   "Circles, squares, triangles, stars and crosses of random colour, size, "
                   "position and rotation on noisy backgrounds; 300 per class at 64x64, drawn "
                   "by the app (no download).", False,
                   {"image_size": 32, "epochs": 10, "batch_size": 16, "learning_rate": 3e-3,
                    "augment_flip": True}),
    "digits": Demo("digits", "Digits (scikit-learn)",
                   "1,797 handwritten digits 0-9 at 8x8 from scikit-learn (UCI), upscaled to "
                   "32x32. Bundled with scikit-learn: no download.", False,
                   {"image_size": 32, "epochs": 8, "batch_size": 32, "learning_rate": 3e-3,
                    "augment_flip": False}),
    "mnist": Demo("mnist", "MNIST",
                  "70,000 handwritten digits at 28x28 (LeCun et al.). About 11 MB, downloaded "
                  "once.", True,
                  {"image_size": 28, "epochs": 2, "augment_flip": False}),
    "fashion-mnist": Demo("fashion-mnist", "Fashion-MNIST",
                          "70,000 Zalando clothing images in 10 classes at 28x28. About 30 MB, "
                          "downloaded once.", True,
                          {"image_size": 28, "epochs": 5, "augment_flip": True}),
    "cifar10": Demo("cifar10", "CIFAR-10",
                    "60,000 colour photos in 10 classes at 32x32 (Krizhevsky 2009). About "
                    "163 MB, downloaded once.", True,
                    {"image_size": 32, "epochs": 10, "augment_flip": True,
                     "augment_crop": True}),
}


# --------------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------------
def _polygon(cx: float, cy: float, radii: list[float], angle: float) -> list[tuple[float, float]]:
    n = len(radii)
    return [(cx + r * math.cos(angle + 2 * math.pi * k / n),
             cy + r * math.sin(angle + 2 * math.pi * k / n)) for k, r in enumerate(radii)]


def _cross(cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    w = r * 0.36  # half-width of each bar
    pts = [(w, r), (w, w), (r, w), (r, -w), (w, -w), (w, -r),
           (-w, -r), (-w, -w), (-r, -w), (-r, w), (-w, w), (-w, r)]
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts]


def _shape_colours(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A background and a foreground colour that differ clearly in brightness."""
    while True:
        bg = rng.integers(0, 256, 3)
        fg = rng.integers(0, 256, 3)
        if abs(float(bg.mean()) - float(fg.mean())) > SHAPE_MIN_CONTRAST:
            return tuple(int(v) for v in bg), tuple(int(v) for v in fg)


def render_shape(kind: str, rng: np.random.Generator, size: int = 64,
                 with_mask: bool = False):
    """One shape image as uint8 (size, size, 3); with ``with_mask`` also its bool mask."""
    scale = 2  # draw at twice the size, then downsample: anti-aliased edges
    big = size * scale
    bg, fg = _shape_colours(rng)
    r = float(rng.uniform(0.2, 0.38)) * big
    margin = r * 0.9
    cx = float(rng.uniform(margin, big - margin))
    cy = float(rng.uniform(margin, big - margin))
    angle = float(rng.uniform(0, 2 * math.pi))
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    if kind == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    elif kind == "square":
        draw.polygon(_polygon(cx, cy, [r] * 4, angle), fill=255)
    elif kind == "triangle":
        draw.polygon(_polygon(cx, cy, [r] * 3, angle), fill=255)
    elif kind == "star":
        draw.polygon(_polygon(cx, cy, [r, r * 0.45] * 5, angle), fill=255)
    elif kind == "cross":
        draw.polygon(_cross(cx, cy, r, angle), fill=255)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    # background: a smooth gradient of the background colour plus pixel noise
    yy, xx = np.mgrid[0:big, 0:big].astype(np.float32) / big
    tilt = rng.uniform(-SHAPE_TILT, SHAPE_TILT, size=(2, 1, 1, 1)).astype(np.float32)
    background = (np.asarray(bg, np.float32)[None, None, :]
                  + tilt[0, 0] * xx[..., None] + tilt[1, 0] * yy[..., None])
    m = np.asarray(mask.filter(ImageFilter.BoxBlur(0.5)), np.float32)[..., None] / 255.0
    img = background * (1 - m) + np.asarray(fg, np.float32)[None, None, :] * m
    img = np.asarray(Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
                     .resize((size, size), Image.Resampling.BOX), np.float32)
    img += rng.normal(0, SHAPE_NOISE, img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).round().astype(np.uint8)
    if with_mask:
        small = np.asarray(mask.resize((size, size), Image.Resampling.BOX)) > 127
        return out, small
    return out


@functools.lru_cache(maxsize=4)
def _shapes_cached(per_class: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = per_class * len(SHAPE_CLASSES)
    images = np.empty((n, size, size, 3), np.uint8)
    labels = np.empty(n, np.int64)
    k = 0
    for _ in range(per_class):
        for label, kind in enumerate(SHAPE_CLASSES):
            images[k] = render_shape(kind, rng, size)
            labels[k] = label
            k += 1
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def make_shapes(per_class: int = 300, size: int = 64, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(images (N, size, size, 3) uint8, labels (N,), class names)``; same seed, same data."""
    images, labels = _shapes_cached(int(per_class), int(size), int(seed))
    return images, labels, list(SHAPE_CLASSES)


def write_shapes_folder(root: str | os.PathLike, per_class: int = 20, size: int = 64,
                        seed: int = 0, fmt: str = "png") -> Path:
    """Write shapes as ``root/<class>/<class>_NNN.<fmt>`` (a class-folder dataset)."""
    root = Path(root)
    images, labels, classes = make_shapes(per_class, size, seed)
    counters = dict.fromkeys(classes, 0)
    for img, label in zip(images, labels, strict=True):
        name = classes[int(label)]
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img, "RGB").save(folder / f"{name}_{counters[name]:03d}.{fmt}")
        counters[name] += 1
    return root


# --------------------------------------------------------------------------------------------
# Digits and the torchvision downloads
# --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _digits(size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    raw = np.clip(digits.images * (255.0 / 16.0), 0, 255).astype(np.uint8)  # (N, 8, 8)
    images = np.stack([np.asarray(Image.fromarray(im, "L").resize(
        (size, size), Image.Resampling.BILINEAR)) for im in raw])
    images.setflags(write=False)
    return images, digits.target.astype(np.int64)


def datasets_dir(home: str | os.PathLike | None = None) -> Path:
    from playground.core.paths import cache_dir

    path = cache_dir(home) / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _download_mnist_like(cls, root: Path, ctx: JobContext | None, title: str) -> None:
    """Fetch the four gzipped IDX files of an MNIST-like dataset and extract them."""
    from torchvision.datasets.utils import check_integrity, extract_archive

    from playground.core.download import download_file
    from playground.core.errors import WeightsUnavailable

    raw = root / cls.__name__ / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for k, (filename, md5) in enumerate(cls.resources):
        dest = raw / filename
        if ctx is not None:
            ctx.emit(ev.Log(f"{title}: fetching {filename} ({k + 1}/{len(cls.resources)})"))
        error: WeightsUnavailable | None = None
        for mirror in cls.mirrors:
            try:
                download_file(mirror + filename, dest, ctx, what=f"{title} file")
                error = None
                break
            except WeightsUnavailable as exc:
                error = exc
        if error is not None:
            raise DatasetError(str(error)) from error
        if not check_integrity(str(dest), md5):
            dest.unlink(missing_ok=True)
            raise DatasetError(f"The downloaded {title} file {filename} is corrupt (checksum "
                               "mismatch). Try again.")
        extract_archive(str(dest), str(raw))


def _download_cifar(cls, root: Path, ctx: JobContext | None) -> None:
    from torchvision.datasets.utils import check_integrity, extract_archive

    from playground.core.download import download_file
    from playground.core.errors import WeightsUnavailable

    dest = root / cls.filename
    try:
        download_file(cls.url, dest, ctx, what="CIFAR-10 archive")
    except WeightsUnavailable as exc:
        raise DatasetError(str(exc)) from exc
    if not check_integrity(str(dest), cls.tgz_md5):
        dest.unlink(missing_ok=True)
        raise DatasetError(f"The downloaded CIFAR-10 archive {cls.filename} is corrupt "
                           "(checksum mismatch). Try again.")
    if ctx is not None:
        ctx.emit(ev.Log(f"extracting {cls.filename}"))
    extract_archive(str(dest), str(root))


def load_torchvision_demo(name: str, ctx: JobContext | None = None,
                          home: str | os.PathLike | None = None
                          ) -> tuple[ArrayImageDataset, ArrayImageDataset]:
    """MNIST / Fashion-MNIST / CIFAR-10 train and test sets as in-memory arrays.

    Downloads into ``<home>/cache/datasets`` only when the files are not already there (under
    torchrun rank 0 downloads while the other processes wait). CIFAR-10's batches are
    pickles: torchvision reads them only after checking each file's MD5 against the published
    one, so no file of unknown origin is ever unpickled.
    """
    from playground.core.distributed import main_first

    with main_first():
        return _load_torchvision_demo(name, ctx, home)


def _load_torchvision_demo(name: str, ctx: JobContext | None, home: str | os.PathLike | None
                           ) -> tuple[ArrayImageDataset, ArrayImageDataset]:
    from torchvision import datasets

    cls = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST,
           "cifar10": datasets.CIFAR10}[name]
    title = DEMOS[name].title
    root = datasets_dir(home)

    def build(train: bool):
        return cls(str(root), train=train, download=False)

    try:
        train_set, test_set = build(True), build(False)
    except RuntimeError:
        if ctx is not None:
            ctx.emit(ev.Log(f"{title} is not in {root} yet: downloading it once."))
        if name == "cifar10":
            _download_cifar(cls, root, ctx)
        else:
            _download_mnist_like(cls, root, ctx, title)
        try:
            train_set, test_set = build(True), build(False)
        except RuntimeError as exc:
            raise DatasetError(f"{title} in {root} is incomplete or damaged ({exc}). Delete "
                               "that folder's files for it and try again.") from exc
    classes = list(train_set.classes)

    def to_arrays(ds) -> tuple[np.ndarray, np.ndarray]:
        data = ds.data.numpy() if hasattr(ds.data, "numpy") else np.asarray(ds.data)
        targets = np.asarray(ds.targets, dtype=np.int64)
        return np.ascontiguousarray(data.astype(np.uint8)), targets

    tr_x, tr_y = to_arrays(train_set)
    te_x, te_y = to_arrays(test_set)
    return (ArrayImageDataset(tr_x, tr_y, classes), ArrayImageDataset(te_x, te_y, classes))


# --------------------------------------------------------------------------------------------
# Spec -> datasets
# --------------------------------------------------------------------------------------------
@dataclass
class PreparedData:
    """What a training job needs: datasets with transforms, class names, a description."""

    train: Any                                  # torch Dataset with .classes/.labels/.raw(i)
    val: Any | None
    classes: list[str]
    description: dict[str, Any]
    thumbnails: list[tuple[str, np.ndarray]]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    title: str = ""
    split: str = ""                             # how validation was chosen, in words
    normalization: dict[str, list[float]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Images per class, training and validation together."""
        labels = list(self.train.labels) + (list(self.val.labels) if self.val else [])
        found = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(self.classes))
        return {name: int(found[i]) for i, name in enumerate(self.classes)}


def parse_spec(spec: str) -> tuple[str, str]:
    """``("demo", name)`` or ``("folder", path)``; unknown demo names raise DatasetError."""
    spec = str(spec).strip()
    if spec.startswith("demo:"):
        name = spec[5:].strip().lower()
        if name not in DEMOS:
            raise DatasetError(f"Unknown demo data {name!r}. Choose one of: "
                               f"{', '.join('demo:' + n for n in DEMOS)}, or a folder.")
        return "demo", name
    if not spec:
        raise DatasetError("No data chosen: give a folder with one sub-folder per class, or "
                           "demo:shapes.")
    return "folder", spec


def apply_recipe(cfg: Any, spec: str) -> Any:
    """``cfg`` with the demo's tuned recipe applied (unchanged for folders)."""
    from playground.core import schema

    kind, name = parse_spec(spec)
    if kind != "demo":
        return cfg
    return schema.replace(cfg, **DEMOS[name].recipe)


def _split(full, cfg, transforms: tuple[Callable, Callable]) -> tuple[Any, Any, str]:
    from playground.core.data import split_indices

    tr_idx, va_idx = split_indices(len(full), float(cfg.val_fraction), int(cfg.seed),
                                   labels=full.labels)
    train = full.subset(tr_idx, transforms[0])
    val = full.subset(va_idx, transforms[1]) if va_idx else None
    words = (f"validation: {len(va_idx):,} images ({cfg.val_fraction:.0%} of each class, "
             f"seed {cfg.seed})" if va_idx else "no validation split")
    return train, val, words


def load_data(spec: str, cfg: Any, ctx: JobContext | None = None, *,
              home: str | os.PathLike | None = None, thumbs_per_class: int = 8,
              thumb_size: int = 64) -> PreparedData:
    """Load ``spec`` (a folder or ``demo:NAME``) as train / validation datasets.

    Validation is a stratified split of ``cfg.val_fraction`` with ``cfg.seed`` unless the
    data has its own (a folder's ``val/``, the downloads' test set).
    """
    kind, name = parse_spec(spec)
    pretrained = bool(getattr(cfg, "pretrained", False))
    transforms = (build_transforms(cfg, True), build_transforms(cfg, False))
    norm = normalization(pretrained)
    skipped: list[tuple[str, str]] = []
    if kind == "folder":
        index: ImageFolderIndex = scan_folder(name, ctx)
        full = ImageFileDataset(index.train, index.classes)
        if index.val is not None:
            train = full.subset(range(len(full)), transforms[0])
            val = ImageFileDataset(index.val, index.classes, transforms[1])
            words = f"validation: the folder's own split ({len(index.val):,} images)"
        else:
            train, val, words = _split(full, cfg, transforms)
        description = index.describe()
        skipped = list(index.skipped)
        title = index.root.name
        thumbs = thumbnails(index, thumbs_per_class, thumb_size)
    else:
        demo = DEMOS[name]
        title = demo.title
        if ctx is not None:
            ctx.emit(ev.Progress(0, 0, f"preparing {demo.title}", unit="step"))
        if name == "shapes":
            images, labels, classes = make_shapes(seed=int(getattr(cfg, "seed", 0)))
            full = ArrayImageDataset(images, labels, classes)
            train, val, words = _split(full, cfg, transforms)
        elif name == "digits":
            images, labels = _digits()
            full = ArrayImageDataset(images, labels, [str(d) for d in range(10)])
            train, val, words = _split(full, cfg, transforms)
        else:
            full, test = load_torchvision_demo(name, ctx, home)
            train = full.subset(range(len(full)), transforms[0])
            val = test.subset(range(len(test)), transforms[1])
            words = f"validation: the official test set ({len(test):,} images)"
        description = {"source": "demo", "demo": name, "title": demo.title,
                       "classes": list(full.classes), "train_images": len(train),
                       "val_images": len(val) if val is not None else 0}
        thumbs = thumbnails(train, thumbs_per_class, thumb_size)
    classes = list(train.classes)
    description = {**description, "spec": str(spec), "split": words}
    prepared = PreparedData(train=train, val=val, classes=classes, description=description,
                            thumbnails=thumbs, skipped=skipped, title=title, split=words,
                            normalization=norm)
    description["counts"] = prepared.counts()
    return prepared
