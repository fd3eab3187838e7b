"""Image models: a small CNN of our own plus the torchvision model zoo, behind one registry.

Names follow ``torchvision.models`` (``resnet18``, ``mobilenet_v3_small`` ...). Every model
is built with :func:`build_model`, which replaces the classification head for the number of
classes at hand and, for transfer learning, first loads torchvision's ImageNet weights: the
weights enum's URL is downloaded (with progress, cancellable, clear offline message) into
``torch.hub.get_dir()/checkpoints`` - the same file torchvision itself would use - and read
with ``weights_only=True``. ``linear_probe`` then freezes everything but the new head.

Factories follow the registry convention ``factory(spec: ModelSpec) -> nn.Module``:
``spec.num_outputs`` classes, ``spec.num_inputs`` 3 (RGB), ``spec.input_size`` the image side,
``spec.config`` an :class:`ImageModelOptions` (pretrained, transfer, dropout, image size).
:func:`build_model` checks the options and calls the entry's factory, so an entry registered at
run time (a builder graph) trains like the built-in ones. Its ``extra`` may give ``min_size``
/ ``fixed_size`` (pixels); only entries with ``pretrained=True`` accept ``pretrained``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.core.errors import ConfigError, WeightsUnavailable
from playground.core.jobs import JobContext
from playground.core.registry import ModelEntry, ModelSpec, Registry

TRANSFER_MODES = ("fine_tune", "linear_probe")


@dataclass(frozen=True)
class ImageModelOptions:
    """``ModelSpec.config`` of an image factory: the options of ImageTrainConfig it may read."""

    pretrained: bool = False
    transfer: str = "fine_tune"
    dropout: float = 0.0
    image_size: int = 224

REGISTRY = Registry("image")

_ZOO: dict[str, dict[str, Any]] = {
    "resnet18": dict(title="ResNet-18", family="CNN (residual)",
                     description="He et al. 2015, 'Deep Residual Learning'. 11.7 M parameters; "
                                 "a strong default for transfer learning.",
                     min_size=16),
    "mobilenet_v3_small": dict(title="MobileNetV3-Small", family="CNN (mobile)",
                               description="Howard et al. 2019. 2.5 M parameters, built for "
                                           "phones: fast on a CPU.", min_size=16),
    "efficientnet_b0": dict(title="EfficientNet-B0", family="CNN (mobile)",
                            description="Tan & Le 2019. 5.3 M parameters; accurate for its "
                                        "size.", min_size=16),
    "alexnet": dict(title="AlexNet", family="CNN (classic)",
                    description="Krizhevsky et al. 2012, the network that started the deep "
                                "learning boom. 61 M parameters; needs images of 63 px or more.",
                    min_size=63),
    "googlenet": dict(title="GoogLeNet (Inception v1)", family="CNN (inception)",
                      description="Szegedy et al. 2014. 6.6 M parameters; auxiliary "
                                  "classifiers are turned off.", min_size=32),
    "vit_b_16": dict(title="ViT-B/16", family="Transformer",
                     description="Dosovitskiy et al. 2020, a Vision Transformer on 16x16 "
                                 "patches. 86 M parameters; needs 224x224 images (slow on a "
                                 "CPU).", min_size=224, fixed_size=224),
}


def _small_cnn(spec: ModelSpec):
    from playground.vision.small_cnn import SmallCNN, SmallCNNConfig

    return SmallCNN(SmallCNNConfig(num_classes=spec.num_outputs, dropout=spec.config.dropout,
                                   image_size=int(spec.input_size)))


def _zoo_factory(name: str):
    def factory(spec: ModelSpec):
        return _build_zoo(name, spec)

    factory.__name__ = f"build_{name}"
    return factory


def _register_all() -> None:
    REGISTRY.register(ModelEntry(
        name="small_cnn", title="Small CNN (LeNet-like)", family="CNN",
        factory=_small_cnn,
        description="Three conv-BN-ReLU blocks and a 2-layer classifier (about 0.1 M "
                    "parameters). Trains from scratch in seconds on the demos.",
        pretrained=False, extra={"min_size": 16}))
    for name, meta in _ZOO.items():
        REGISTRY.register(ModelEntry(
            name=name, title=meta["title"], family=meta["family"],
            factory=_zoo_factory(name),
            description=meta["description"], pretrained=True,
            extra={k: v for k, v in meta.items() if k not in ("title", "family", "description")}))


_register_all()


# --------------------------------------------------------------------------------------------
def count_parameters(model) -> tuple[int, int]:
    """(total, trainable) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def pretrained_url(name: str) -> str:
    """The URL of torchvision's default ImageNet weights for ``name``."""
    from torchvision.models import get_model_weights

    return get_model_weights(name).DEFAULT.url


def pretrained_path(name: str) -> Path:
    """Where the pretrained weights of ``name`` are cached (torchvision's own location)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(pretrained_url(name))


def fetch_pretrained(name: str, ctx: JobContext | None = None) -> dict:
    """Download (unless cached) and read the ImageNet state dict of ``name`` safely."""
    from playground.core.checkpoint import load_torch
    from playground.core.download import download_file
    from playground.core.errors import CheckpointError

    path = pretrained_path(name)
    download_file(pretrained_url(name), path, ctx, what="pretrained weights")
    try:
        state = load_torch(path)
    except CheckpointError as exc:
        raise WeightsUnavailable(
            f"The pretrained weights file {path.name} in {path.parent} could not be read "
            "(damaged or incomplete). Delete it so it is downloaded again, or place a good "
            "copy there.") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"],
                                                                        dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsUnavailable(f"{path} does not hold a state dict of {name} weights. "
                                 "Delete it so it is downloaded again.")
    return state


def _linear(n_in: int, n_out: int, dropout: float):
    """Dropout + linear; always both, so checkpoint keys do not depend on the dropout value."""
    from torch import nn

    return nn.Sequential(nn.Dropout(dropout), nn.Linear(n_in, n_out))


def _replace_head(name: str, model, num_classes: int, dropout: float):
    """Swap the 1000-class ImageNet head for ``num_classes``; return the new head module."""
    from torch import nn

    if name == "resnet18":
        model.fc = _linear(model.fc.in_features, num_classes, dropout)
        return model.fc
    if name == "googlenet":
        model.dropout.p = dropout
        model.fc = nn.Linear(model.fc.in_features, num_classes)
        return model.fc
    if name in ("mobilenet_v3_small", "efficientnet_b0", "alexnet"):
        classifier = model.classifier
        for m in classifier:
            if isinstance(m, nn.Dropout):
                m.p = dropout
        last = len(classifier) - 1
        classifier[last] = nn.Linear(classifier[last].in_features, num_classes)
        return classifier[last]
    if name == "vit_b_16":
        model.heads.head = _linear(model.heads.head.in_features, num_classes, dropout)
        return model.heads.head
    raise ConfigError(f"No head replacement is known for image model {name!r}.")


def _check_size(entry: ModelEntry, image_size: int) -> None:
    minimum = int(entry.extra.get("min_size", 1))
    fixed = entry.extra.get("fixed_size")
    title = entry.title
    if fixed and image_size != fixed:
        raise ConfigError(
            f"{title} needs an image size of exactly {fixed} (its position embeddings are "
            f"for a {fixed // 16}x{fixed // 16} grid of 16-pixel patches); got {image_size}. "
            f"Set Image size (--image-size) to {fixed}, or choose another model.")
    if image_size < minimum:
        raise ConfigError(f"{title} needs images of at least {minimum} pixels; got "
                          f"{image_size}. Raise Image size (--image-size) or choose another "
                          "model.")


def _freeze_backbone_norms(model, head) -> None:
    """Linear probe: keep the frozen backbone's batch-norm statistics fixed in training too."""
    from torch import nn

    head_modules = set(head.modules())
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m not in head_modules]
    if not norms:
        return

    def keep_eval(module, args):
        for m in norms:
            m.eval()

    model.register_forward_pre_hook(keep_eval)


def build_model(name: str, num_classes: int, *, pretrained: bool = False,
                transfer: str = "fine_tune", dropout: float = 0.0, image_size: int = 224,
                ctx: JobContext | None = None, load_pretrained: bool = True):
    """Build the registry entry ``name`` for ``num_classes`` classes.

    ``pretrained`` loads torchvision's ImageNet weights into the backbone (downloading them
    into the torch cache when absent) before the head is replaced; ``transfer='linear_probe'``
    then trains only the new head. ``load_pretrained=False`` builds the pretrained variant of
    the architecture without fetching weights (when a run's own checkpoint follows).
    """
    entry = REGISTRY.get(name)  # raises the ConfigError listing the choices
    if num_classes < 2:
        raise ConfigError(f"A classifier needs at least 2 classes; got {num_classes}.")
    if transfer not in TRANSFER_MODES:
        raise ConfigError(f"Transfer mode must be one of {', '.join(TRANSFER_MODES)}; "
                          f"got {transfer!r}.")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"Dropout must be in [0, 1); got {dropout}.")
    _check_size(entry, int(image_size))
    if pretrained and not entry.pretrained:
        raise ConfigError(f"{entry.title} has no pretrained weights: untick Pretrained or "
                          "choose a torchvision model such as resnet18.")
    options = ImageModelOptions(pretrained=bool(pretrained), transfer=transfer,
                                dropout=float(dropout), image_size=int(image_size))
    return entry.factory(ModelSpec(task="image", num_outputs=int(num_classes), num_inputs=3,
                                   input_size=int(image_size), config=options, ctx=ctx,
                                   load_pretrained=load_pretrained))


def _build_zoo(name: str, spec: ModelSpec):
    """A torchvision model with its head replaced (and ImageNet weights, when asked)."""
    from torchvision.models import get_model

    opts: ImageModelOptions = spec.config
    pretrained = opts.pretrained
    kwargs: dict[str, Any] = {}
    if name == "googlenet":
        # Pretrained GoogLeNet expects its own input normalisation (transform_input).
        kwargs.update(aux_logits=False, init_weights=not pretrained, transform_input=pretrained)
    model = get_model(name, weights=None, **kwargs)
    if pretrained and spec.load_pretrained:
        state = fetch_pretrained(name, spec.ctx)
        if name == "googlenet":
            state = {k: v for k, v in state.items() if not k.startswith(("aux1.", "aux2."))}
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise WeightsUnavailable(
                f"The pretrained weights {pretrained_path(name)} do not fit {name} "
                f"({str(exc).splitlines()[0]}). Delete the file so it is downloaded "
                "again.") from exc
    head = _replace_head(name, model, spec.num_outputs, opts.dropout)
    if opts.transfer == "linear_probe":
        for p in model.parameters():
            p.requires_grad_(False)
        for p in head.parameters():
            p.requires_grad_(True)
        _freeze_backbone_norms(model, head)
    return model


def model_info(name: str, num_classes: int = 10, **kwargs: Any) -> dict[str, Any]:
    """Registry metadata plus parameter counts (built on the meta device: no memory used)."""
    import torch

    entry = REGISTRY.get(name)
    kwargs = {**kwargs, "load_pretrained": False}
    try:
        with torch.device("meta"):
            model = build_model(name, num_classes, **kwargs)
    except (NotImplementedError, RuntimeError):  # an op without a meta kernel: count for real
        model = build_model(name, num_classes, **kwargs)
    total, trainable = count_parameters(model)
    return {"name": entry.name, "title": entry.title, "family": entry.family,
            "description": entry.description, "pretrained_available": entry.pretrained,
            "parameters": total, "trainable": trainable}
