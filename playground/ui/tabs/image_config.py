"""The image tab's schema class, imported lazily (it lives in the torch-importing package)."""

from __future__ import annotations


def image_config_class() -> type:
    from playground.vision.config import ImageTrainConfig

    return ImageTrainConfig
