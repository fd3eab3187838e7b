"""The image task's options: one schema for the form, the CLI flags and run.json."""

from __future__ import annotations

from dataclasses import dataclass

from playground.core.schema import option
from playground.core.trainer import ClassifierTrainConfig
from playground.vision.models import REGISTRY, TRANSFER_MODES


@dataclass
class ImageTrainConfig(ClassifierTrainConfig):
    """Classification options plus the model, image size and augmentation."""

    epochs: int = option(8, label="Epochs", min=1, max=10000, group="Training",
                         help="Passes over the training set.")
    batch_size: int = option(16, label="Batch size", min=1, max=4096, group="Training",
                             help="Small batches learn small data sets in fewer epochs (Shapes "
                                  "at 64 px: 96 % after 8 epochs with 16, 79 % with 32); "
                                  "larger ones use a GPU better.")
    learning_rate: float = option(3e-3, label="Learning rate", min=1e-7, max=10.0, log=True,
                                  group="Training",
                                  help="3e-3 suits the small CNN from scratch; use about 1e-3 "
                                       "(fine-tune) to 1e-2 (linear probe) with pretrained "
                                       "models.")
    model: str = option("small_cnn", label="Model", choices=REGISTRY.names, group="Model",
                        help="small_cnn trains from scratch in seconds; the torchvision models "
                             "can start from ImageNet weights.")
    pretrained: bool = option(False, label="Pretrained (ImageNet)", group="Model",
                              help="Start from torchvision's ImageNet weights (downloaded once "
                                   "into the torch cache). Not for small_cnn.")
    transfer: str = option("fine_tune", label="Transfer learning", choices=TRANSFER_MODES,
                           group="Model",
                           help="fine_tune trains every layer; linear_probe freezes the "
                                "pretrained backbone and trains only the new head.")
    image_size: int = option(64, label="Image size", min=16, max=512, step=8, group="Model",
                             help="Images are resized to this many pixels square. "
                                  "Pretrained models work best at 224; ViT-B/16 needs 224.")
    dropout: float = option(0.2, label="Dropout", min=0.0, max=0.9, step=0.05,
                            group="Regularisation",
                            help="Dropout before the classifier layers.")
    augment_crop: bool = option(False, label="Random resized crop", group="Augmentation",
                                help="Train on random crops of 60-100 % of each image.")
    augment_flip: bool = option(True, label="Horizontal flip", group="Augmentation",
                                help="Mirror training images at random (turn off for digits "
                                     "and text).")
    augment_rotation: bool = option(False, label="Rotation (±15°)", group="Augmentation")
    augment_color: bool = option(False, label="Colour jitter", group="Augmentation",
                                 help="Random brightness, contrast, saturation and hue.")
    workers: int = option(0, label="Data loader workers", min=0, max=32, group="Data",
                          advanced=True,
                          help="Processes decoding images in parallel; 0 decodes in the "
                               "training thread (best for small in-memory demos).")
