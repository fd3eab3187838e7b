"""Image data: robust decoding, class-folder scanning, torch datasets, transforms, thumbnails.

A dataset on disk is either one sub-folder per class::

    flowers/daisy/*.jpg, flowers/rose/*.jpg, ...

or ``train/`` and ``val/`` (also ``valid/``, ``validation/`` or ``test/``) each holding the
class folders. :func:`scan_folder` checks every file once (a full decode; JPEGs are decoded at
reduced scale, which still reads every byte) so unreadable files are listed and skipped instead
of stopping training halfway; :class:`ImageFileDataset` still reports a file that breaks later
with :class:`ImageDecodeError` naming it.

Colour handling (:func:`to_rgb`): CMYK, palette (with transparency), 16-bit and 32-bit
grayscale (scaled, not clipped), float, alpha (composited on white) and 1-bit images all become
8-bit RGB, after applying the EXIF orientation.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset

from playground.core import events as ev
from playground.core.data import os_reason
from playground.core.errors import DatasetError, ImageDecodeError
from playground.core.jobs import JobContext

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_PIXELS = 64_000_000
"""Larger images are refused as possible decompression bombs (Pillow's own limit is ~89 MP)."""

VAL_FOLDER_NAMES = ("val", "valid", "validation", "test")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PLAIN_MEAN = (0.5, 0.5, 0.5)
PLAIN_STD = (0.5, 0.5, 0.5)

# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------
def _white_background(img: Image.Image) -> Image.Image:
    rgba = img.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _scale_to_uint8(arr: np.ndarray, full_scale: float) -> np.ndarray:
    arr = arr.astype(np.float64)
    return np.clip(np.round(arr * (255.0 / full_scale)), 0, 255).astype(np.uint8)


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow image mode as 8-bit RGB (see the module docstring for the rules)."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _white_background(img)
    if mode == "P":
        if "transparency" in img.info:
            return _white_background(img.convert("RGBA"))
        return img.convert("RGB")
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(img)
        if arr.dtype.kind == "f" or arr.dtype.itemsize > 2:
            low, high = float(arr.min()), float(arr.max())
            # 32-bit data: 16-bit range when it fits, else stretched to its own range.
            if low >= 0 and high <= 255:
                full = 255.0
            elif low >= 0 and high <= 65535:
                full = 65535.0
            else:
                arr = arr.astype(np.float64) - low
                full = max(high - low, 1.0)
        else:
            full = 65535.0
        gray = _scale_to_uint8(arr, full)
        return Image.fromarray(gray, "L").convert("RGB")
    if mode == "F":
        arr = np.nan_to_num(np.asarray(img, dtype=np.float64))
        low, high = float(arr.min()), float(arr.max())
        if low >= 0 and high <= 1.0:
            gray = _scale_to_uint8(arr, 1.0)
        elif low >= 0 and high <= 255:
            gray = _scale_to_uint8(arr, 255.0)
        else:
            gray = _scale_to_uint8(arr - low, max(high - low, 1e-12))
        return Image.fromarray(gray, "L").convert("RGB")
    try:
        return img.convert("RGB")  # L, 1, CMYK, YCbCr, ...
    except (ValueError, OSError) as exc:
        raise ValueError(f"unsupported colour mode {mode}") from exc


def _name(source: Any) -> str:
    return os.path.basename(str(source)) if isinstance(source, (str, os.PathLike)) else "image"


def _open_checked(path: Path) -> Image.Image:
    """Open lazily and check the header: size and pixel count (decompression bombs)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise ImageDecodeError(f"{path.name}: file not found.") from exc
    except OSError as exc:
        raise ImageDecodeError(f"{path.name}: cannot be read ({os_reason(exc)}).") from exc
    if size == 0:
        raise ImageDecodeError(f"{path.name}: empty file (0 bytes).")
    try:
        img = Image.open(path)
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(f"{path.name}: not an image, or a format Pillow cannot read "
                               f"(named {path.suffix or 'without extension'}).") from exc
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"{path.name}: too many pixels (refused as a possible "
                               "decompression bomb).") from exc
    except OSError as exc:
        if exc.errno is not None:  # the system refused or failed to read: not the image's fault
            raise ImageDecodeError(f"{path.name}: cannot be read ({os_reason(exc)}).") from exc
        raise ImageDecodeError(f"{path.name}: corrupt header ({exc}).") from exc
    except (ValueError, SyntaxError) as exc:
        raise ImageDecodeError(f"{path.name}: corrupt header ({exc}).") from exc
    width, height = img.size
    if width < 1 or height < 1:
        img.close()
        raise ImageDecodeError(f"{path.name}: has no pixels ({width}x{height}).")
    if width * height > MAX_PIXELS:
        img.close()
        raise ImageDecodeError(
            f"{path.name}: {width}x{height} is more than {MAX_PIXELS // 1_000_000} megapixels "
            "(refused as a possible decompression bomb); resize it first.")
    return img


def _decode(img: Image.Image, name: str, draft: tuple[int, int] | None = None) -> Image.Image:
    try:
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)  # animated GIF / multi-page TIFF: the first frame
        if draft is not None and img.format == "JPEG":
            img.draft("RGB", draft)  # DCT scaling: reads every byte, decodes far fewer pixels
        img.load()
        img = ImageOps.exif_transpose(img)
        return to_rgb(img)
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"{name}: too many pixels (refused as a possible "
                               "decompression bomb).") from exc
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError) as exc:
        text = str(exc)
        if isinstance(exc, OSError) and exc.errno is not None:
            reason = f"cannot be read ({os_reason(exc)})"
        elif "truncated" in text.lower():
            reason = "truncated file"
        elif "unsupported colour mode" in text:
            reason = text
        else:
            reason = f"corrupt data ({text or type(exc).__name__})"
        raise ImageDecodeError(f"{name}: {reason}.") from exc


def load_image(source: Any, *, draft: tuple[int, int] | None = None) -> Image.Image:
    """Decode a file (or take a PIL image / uint8 array) as an RGB PIL image.

    Raises :class:`ImageDecodeError` naming the file with a short reason: empty file, not an
    image, truncated or corrupt data, too many pixels. ``draft`` lets JPEGs decode at reduced
    scale when only a small version is needed (thumbnails, validation while scanning).
    """
    if isinstance(source, Image.Image):
        return to_rgb(source)
    if isinstance(source, np.ndarray):
        return Image.fromarray(as_rgb_array(source), "RGB")
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageDecodeError("image: empty data (0 bytes).")
        try:
            img = Image.open(io.BytesIO(source))
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ImageDecodeError(f"image: not an image ({exc}).") from exc
        return _decode(img, "image", draft)
    path = Path(source)
    if path.is_dir():
        raise ImageDecodeError(f"{path.name}: is a folder, not an image file.")
    img = _open_checked(path)
    try:
        return _decode(img, path.name, draft)
    finally:
        img.close()


def as_rgb_array(arr: np.ndarray) -> np.ndarray:
    """A uint8 (H, W, 3) array from gray (H, W), (H, W, 1), RGB or RGBA input."""
    a = np.asarray(arr)
    if a.dtype != np.uint8:
        if a.dtype.kind == "f" and a.size and float(np.nanmax(a)) <= 1.0:
            a = a * 255.0
        a = np.clip(np.nan_to_num(a.astype(np.float64)), 0, 255).round().astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 4:
        rgb = a[:, :, :3].astype(np.float32)
        alpha = a[:, :, 3:4].astype(np.float32) / 255.0
        a = (rgb * alpha + 255.0 * (1 - alpha)).round().astype(np.uint8)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ImageDecodeError(f"image: array of shape {tuple(np.shape(arr))} is not an image "
                               "(expected H x W, H x W x 3 or H x W x 4).")
    return np.ascontiguousarray(a)


def check_image(path: str | os.PathLike) -> str | None:
    """``None`` when the file decodes, else the short reason it does not."""
    try:
        load_image(path, draft=(64, 64))
    except ImageDecodeError as exc:
        text = str(exc)
        return text.split(": ", 1)[1].rstrip(".") if ": " in text else text
    return None


# --------------------------------------------------------------------------------------------
# Scanning a folder
# --------------------------------------------------------------------------------------------
@dataclass
class ImageFolderIndex:
    """What :func:`scan_folder` found: classes, (path, class index) items, skipped files."""

    root: Path
    layout: str                                  # "class_folders" or "train_val"
    classes: list[str]
    train: list[tuple[str, int]]
    val: list[tuple[str, int]] | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)  # other file kinds -> count

    def counts(self, split: str = "all") -> dict[str, int]:
        """Images per class in ``train``, ``val`` or ``all`` (both)."""
        items: list[tuple[str, int]] = []
        if split in ("all", "train"):
            items += self.train
        if split in ("all", "val") and self.val:
            items += self.val
        found = Counter(label for _, label in items)
        return {name: found.get(i, 0) for i, name in enumerate(self.classes)}

    def describe(self) -> dict[str, Any]:
        """Plain data for run.json."""
        return {
            "source": "folder",
            "path": str(self.root),
            "layout": self.layout,
            "classes": list(self.classes),
            "counts": self.counts(),
            "train_images": len(self.train),
            "val_images": len(self.val) if self.val is not None else None,
            "skipped": len(self.skipped),
            "skipped_examples": [[os.path.relpath(p, self.root), r]
                                 for p, r in self.skipped[:20]],
            "ignored_files": dict(self.ignored),
        }


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and not path.name.startswith("__MACOSX")


def _subfolders(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir() and _visible(p))
    except OSError as exc:
        raise DatasetError(f"Cannot read the folder {path} ({exc.strerror or exc}).") from exc


def _files_under(folder: Path, unreadable: list[tuple[str, str]] | None = None
                 ) -> tuple[list[Path], Counter]:
    """Image files (recursively, hidden ones skipped) and a count of other suffixes.

    Folders that cannot be listed are added to ``unreadable`` as ``(path, reason)``; links to
    folders are not followed (no link loops).
    """
    images: list[Path] = []
    others: Counter = Counter()

    def onerror(exc: OSError) -> None:
        if unreadable is not None:
            unreadable.append((str(exc.filename or folder),
                               f"folder cannot be read: {os_reason(exc)}"))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=onerror):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and not d.startswith("__MACOSX"))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            suffix = Path(name).suffix.lower()
            if suffix in IMAGE_EXTENSIONS:
                images.append(Path(dirpath) / name)
            else:
                others[suffix or "(no extension)"] += 1
    return images, others


def _kinds(others: Counter) -> str:
    return ", ".join(f"{n} {suffix}" for suffix, n in others.most_common(6))


def _find_split_folders(root: Path, subdirs: list[Path]) -> tuple[Path, Path | None] | None:
    by_name = {p.name.lower(): p for p in subdirs}
    train = by_name.get("train")
    if train is None or not _subfolders(train):
        return None
    for name in VAL_FOLDER_NAMES:
        val = by_name.get(name)
        if val is not None and _subfolders(val):
            return train, val
    return train, None


def _example_list(items: Sequence[tuple[str, str]], root: Path, n: int = 3) -> str:
    shown = "; ".join(f"{os.path.relpath(p, root)} ({r})" for p, r in items[:n])
    more = f"; and {len(items) - n} more" if len(items) > n else ""
    return shown + more


def scan_folder(path: str | os.PathLike, ctx: JobContext | None = None, *,
                validate: bool = True, workers: int | None = None) -> ImageFolderIndex:
    """Index an image folder (one sub-folder per class, or train/ + val/ of class folders).

    Every image is decoded once (``validate``) so unreadable files are skipped and listed.
    Raises :class:`DatasetError` with what to do when the folder cannot be used.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise DatasetError(f"The folder {root} does not exist. Choose an existing folder with "
                           "one sub-folder of images per class.")
    if not root.is_dir():
        hint = (" To classify this image, drop it on the Predict page (or use "
                "'playground predict image')." if root.suffix.lower() in IMAGE_EXTENSIONS
                else "")
        raise DatasetError(f"{root.name} is a file, not a folder. Training needs a folder with "
                           f"one sub-folder of images per class (e.g. cats/, dogs/).{hint}")
    subdirs = _subfolders(root)
    split = _find_split_folders(root, subdirs)
    if split is not None:
        layout = "train_val"
        train_root, val_root = split
        class_dirs = _subfolders(train_root)
    else:
        layout = "class_folders"
        train_root, val_root = root, None
        class_dirs = subdirs

    loose, loose_other = _files_under(root) if not class_dirs else ([], Counter())
    if not class_dirs:
        if loose:
            raise DatasetError(
                f"{root} has {len(loose)} image(s) but no class sub-folders. Put the images of "
                "each class in its own sub-folder (e.g. cats/, dogs/) and choose the parent "
                "folder.")
        if loose_other:
            raise DatasetError(f"{root} has no images: found only other files "
                               f"({_kinds(loose_other)}). Supported image types: "
                               f"{', '.join(sorted(IMAGE_EXTENSIONS))}.")
        raise DatasetError(f"{root} is empty. Add one sub-folder of images per class.")

    classes = [d.name for d in class_dirs]
    found: dict[str, list[Path]] = {}
    others: Counter = Counter()
    folder_errors: list[tuple[str, str]] = []  # (folder, reason) of folders that cannot be read

    def listed(d: Path) -> tuple[list[Path], Counter]:
        errors: list[tuple[str, str]] = []
        images, other = _files_under(d, errors)
        if errors and Path(errors[0][0]) == d:
            raise DatasetError(
                f"The class folder {d.name!r} in {d.parent} cannot be read "
                f"({errors[0][1].split(': ', 1)[-1]}). Fix its permissions, or move it out of "
                "the dataset folder.")
        folder_errors.extend(errors)
        return images, other

    for d in class_dirs:
        images, other = listed(d)
        found[d.name] = images
        others += other
    val_found: dict[str, list[Path]] = {}
    if val_root is not None:
        for d in _subfolders(val_root):
            images, other = listed(d)
            others += other
            if d.name not in found:
                raise DatasetError(
                    f"The validation folder {val_root.name}/ has a class {d.name!r} that "
                    f"{train_root.name}/ does not have. Use the same class folders in both.")
            val_found[d.name] = images

    total = sum(len(v) for v in found.values())
    if total == 0:
        kinds = f" Found only other files ({_kinds(others)})." if others else ""
        locked = (f" {len(folder_errors)} sub-folder(s) could not be read: "
                  f"{_example_list(folder_errors, root)}." if folder_errors else "")
        raise DatasetError(f"No images found in the class folders of {root}.{kinds}{locked} "
                           f"Supported image types: {', '.join(sorted(IMAGE_EXTENSIONS))}.")
    empty = [name for name, files in found.items() if not files]
    locked_empty = [(name, [e for e in folder_errors
                            if Path(e[0]).is_relative_to(train_root / name)])
                    for name in empty]
    locked_empty = [(name, errs) for name, errs in locked_empty if errs]
    if locked_empty:
        name, errs = locked_empty[0]
        raise DatasetError(
            f"Class folder {name!r} in {train_root} has no readable images: "
            f"{_example_list(errs, root)}. Fix the permissions, or move the images into a "
            "folder that can be read.")
    if empty:
        raise DatasetError(
            f"Class folder(s) {', '.join(repr(n) for n in empty[:5])} in {train_root} have no "
            "images. Add images to them or remove them.")
    if len(classes) < 2:
        raise DatasetError(f"{train_root} has only one class ({classes[0]!r}). A classifier "
                           "needs at least two class sub-folders.")

    # validate every file (decoding releases the GIL: threads help)
    all_files = [p for files in found.values() for p in files]
    all_files += [p for files in val_found.values() for p in files]
    reasons: dict[Path, str | None] = {}
    if validate:
        n_workers = workers or min(8, (os.cpu_count() or 2))
        done = 0
        pool = ThreadPoolExecutor(max_workers=n_workers)
        try:
            for p, reason in zip(all_files, pool.map(check_image, all_files), strict=True):
                reasons[p] = reason
                done += 1
                if ctx is not None and (done % 64 == 0 or done == len(all_files)):
                    ctx.check_cancelled()
                    ctx.emit(ev.Progress(done, len(all_files), "checking images", unit="file"))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # Stop: drop the queued files
    skipped: list[tuple[str, str]] = [(str(p), r) for p, r in reasons.items() if r]
    skipped += folder_errors
    bad_classes = [name for name, files in found.items()
                   if files and all(reasons.get(p) for p in files)]
    if bad_classes:
        name = bad_classes[0]
        items = [(str(p), reasons[p] or "") for p in found[name]]
        raise DatasetError(
            f"None of the {len(items)} image(s) of class {name!r} could be read: "
            f"{_example_list(items, root)}. Replace or remove these files.")

    index = {name: i for i, name in enumerate(classes)}
    train = [(str(p), index[name]) for name, files in found.items() for p in files
             if not reasons.get(p)]
    val = None
    if val_root is not None:
        val = [(str(p), index[name]) for name, files in val_found.items() for p in files
               if not reasons.get(p)]
    return ImageFolderIndex(root=root, layout=layout, classes=classes, train=train, val=val,
                            skipped=skipped, ignored=dict(others))


# --------------------------------------------------------------------------------------------
# Datasets and transforms
# --------------------------------------------------------------------------------------------
class ImageFileDataset(Dataset):
    """``(path, label)`` items decoded on access, then ``transform``-ed."""

    def __init__(self, items: Sequence[tuple[str, int]], classes: Sequence[str],
                 transform: Callable | None = None) -> None:
        self.items = list(items)
        self.classes = list(classes)
        self.transform = transform

    @property
    def labels(self) -> list[int]:
        return [label for _, label in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def raw(self, i: int) -> tuple[np.ndarray, int]:
        """The untransformed image as uint8 (H, W, 3) and its label."""
        path, label = self.items[i]
        return np.asarray(load_image(path)), label

    def __getitem__(self, i: int):
        path, label = self.items[i]
        img = load_image(path)
        return (self.transform(img) if self.transform else img), label

    def subset(self, indices: Sequence[int], transform: Callable | None = None
               ) -> ImageFileDataset:
        return ImageFileDataset([self.items[i] for i in indices], self.classes,
                                transform if transform is not None else self.transform)


class ArrayImageDataset(Dataset):
    """In-memory uint8 images ``(N, H, W)`` (gray) or ``(N, H, W, 3)`` with integer labels."""

    def __init__(self, images: np.ndarray, labels: Sequence[int] | np.ndarray,
                 classes: Sequence[str], transform: Callable | None = None) -> None:
        self.images = images
        self.labels_array = np.asarray(labels, dtype=np.int64)
        self.classes = list(classes)
        self.transform = transform

    @property
    def labels(self) -> list[int]:
        return self.labels_array.tolist()

    def __len__(self) -> int:
        return len(self.labels_array)

    def raw(self, i: int) -> tuple[np.ndarray, int]:
        return as_rgb_array(self.images[i]), int(self.labels_array[i])

    def __getitem__(self, i: int):
        img = self.images[i]
        if img.ndim == 2:
            img = img[:, :, None]
        label = int(self.labels_array[i])
        return (self.transform(img) if self.transform else img), label

    def subset(self, indices: Sequence[int], transform: Callable | None = None
               ) -> ArrayImageDataset:
        idx = np.asarray(indices, dtype=np.int64)
        return ArrayImageDataset(self.images[idx], self.labels_array[idx], self.classes,
                                 transform if transform is not None else self.transform)


def normalization(pretrained: bool) -> dict[str, list[float]]:
    """ImageNet statistics for pretrained models, else 0.5 / 0.5 (inputs in [-1, 1])."""
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if pretrained else (PLAIN_MEAN, PLAIN_STD)
    return {"mean": list(mean), "std": list(std)}


def _to_image_tensor(img: Any):
    """PIL image or uint8 (H, W, C) array -> uint8 (3, H, W) tensor."""
    import torch

    arr = np.asarray(to_rgb(img)) if isinstance(img, Image.Image) else np.asarray(img)
    if not arr.flags.writeable or not arr.flags.c_contiguous:
        arr = np.array(arr)  # torch wants a writable, contiguous buffer
    t = torch.from_numpy(arr)
    if t.ndim == 2:
        t = t[:, :, None]
    t = t.permute(2, 0, 1)
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    return t.contiguous()


def build_transforms(cfg: Any, train: bool, *, pretrained: bool | None = None):
    """torchvision ``transforms.v2`` pipeline: PIL image or uint8 array -> normalised tensor.

    Resizes to ``cfg.image_size`` squared (the whole image is kept, aspect ratio is not);
    on ``train`` adds the enabled augmentations (random resized crop, horizontal flip,
    rotation, colour jitter); normalises with ImageNet statistics when pretrained.
    """
    import torch
    from torchvision.transforms import v2

    size = int(cfg.image_size)
    pretrained = bool(getattr(cfg, "pretrained", False)) if pretrained is None else pretrained
    steps: list[Any] = [v2.Lambda(_to_image_tensor)]
    if train and getattr(cfg, "augment_crop", False):
        steps.append(v2.RandomResizedCrop((size, size), scale=(0.6, 1.0), antialias=True))
    else:
        steps.append(v2.Resize((size, size), antialias=True))
    if train and getattr(cfg, "augment_flip", False):
        steps.append(v2.RandomHorizontalFlip())
    if train and getattr(cfg, "augment_rotation", False):
        steps.append(v2.RandomRotation(15))
    if train and getattr(cfg, "augment_color", False):
        steps.append(v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05))
    norm = normalization(pretrained)
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(norm["mean"], norm["std"])]
    return v2.Compose(steps)


# --------------------------------------------------------------------------------------------
# Thumbnails
# --------------------------------------------------------------------------------------------
def _thumb(img: Image.Image | np.ndarray, size: int) -> np.ndarray:
    pil = img if isinstance(img, Image.Image) else Image.fromarray(as_rgb_array(img), "RGB")
    resample = Image.Resampling.NEAREST if max(pil.size) * 2 <= size else Image.Resampling.BILINEAR
    return np.asarray(ImageOps.fit(to_rgb(pil), (size, size), method=resample)).copy()


def thumbnails(source: Any, per_class: int = 8, size: int = 64
               ) -> list[tuple[str, np.ndarray]]:
    """Up to ``per_class`` square uint8 (size, size, 3) thumbnails per class, class by class.

    ``source`` is an :class:`ImageFolderIndex` or a dataset with ``classes``, ``labels`` and
    ``raw(i)`` (the datasets of this module). Unreadable files are left out.
    """
    out: list[tuple[str, np.ndarray]] = []
    if isinstance(source, ImageFolderIndex):
        classes = source.classes
        picked: dict[int, list[str]] = {i: [] for i in range(len(classes))}
        for path, label in source.train:
            if len(picked[label]) < per_class:
                picked[label].append(path)
        for label, paths in picked.items():
            for p in paths:
                try:
                    img = load_image(p, draft=(size * 2, size * 2))
                except ImageDecodeError:
                    continue
                out.append((classes[label], _thumb(img, size)))
        return out
    classes = list(source.classes)
    labels = np.asarray(source.labels)
    for label, name in enumerate(classes):
        for i in np.flatnonzero(labels == label)[:per_class]:
            try:
                arr, _ = source.raw(int(i))
            except ImageDecodeError:
                continue
            out.append((name, _thumb(arr, size)))
    return out
