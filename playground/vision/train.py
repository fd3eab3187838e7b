"""The image training job: data -> model -> run folder -> live training -> result.

:func:`make_train_job` returns a plain ``job(ctx)`` (see ``playground.core.jobs``): the tab
runs it on a worker thread, the CLI in a terminal, tests with a collecting context. Events, in
order: Progress while data is prepared (and weights downloaded), RunStarted, ModelSummary,
Log lines (class counts, skipped files), then the trainer's Metric / ConfusionMatrix /
ClassReport / CheckpointSaved events plus an ``ImageSamples("Misclassified", ...)`` gallery
after every validation.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from playground.core import events as ev
from playground.core import schema
from playground.core.jobs import JobContext
from playground.vision.config import ImageTrainConfig

__all__ = ["ImageTrainConfig", "make_resume_job", "make_train_job", "misclassified_gallery"]

GALLERY_SIZE = 16
GALLERY_PIXELS = 96


def misclassified_gallery(dataset, classes: list[str], preds: np.ndarray, targets: np.ndarray,
                          probs: np.ndarray, limit: int = GALLERY_SIZE,
                          size: int = GALLERY_PIXELS) -> ev.ImageSamples:
    """Up to ``limit`` misclassified validation images, most confident mistakes first."""
    from PIL import Image

    wrong = np.flatnonzero(preds != targets)
    if wrong.size:
        confidence = probs[wrong, preds[wrong]]
        wrong = wrong[np.argsort(-confidence, kind="stable")][:limit]
    images, captions = [], []
    for i in wrong:
        arr, _ = dataset.raw(int(i))
        pil = Image.fromarray(arr, "RGB")
        if max(pil.size) != size:
            scale = size / max(pil.size)
            new = (max(1, round(pil.width * scale)), max(1, round(pil.height * scale)))
            resample = (Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.BILINEAR)
            pil = pil.resize(new, resample)
        images.append(np.asarray(pil).copy())
        t, p = int(targets[i]), int(preds[i])
        captions.append(f"{classes[t]} → {classes[p]} ({float(probs[i, p]):.2f})")
    return ev.ImageSamples("Misclassified", tuple(images), tuple(captions))


def _default_name(cfg: ImageTrainConfig, data: str) -> str:
    source = data[5:] if data.startswith("demo:") else (Path(data).expanduser().name or "data")
    return f"{cfg.model}-{source}"


def make_train_job(cfg: ImageTrainConfig, data: str, *, name: str | None = None,
                   home: str | os.PathLike | None = None, max_steps: int | None = None,
                   init_from: str | None = None, freeze: bool = False,
                   resume: str | os.PathLike | None = None
                   ) -> Callable[[JobContext], dict[str, Any]]:
    """A job that trains ``cfg.model`` on ``data`` (a folder or ``demo:NAME``).

    ``init_from`` (``RUN_DIR[:best|:last]``) starts from another image run's weights (a new
    head when the classes differ; ``freeze`` freezes what was reused). ``resume`` (a run
    folder) continues that run from its last checkpoint; ``cfg`` then carries its saved
    settings with a new ``epochs`` total (see :func:`make_resume_job`).

    Returns the training result dict: run_dir, val_accuracy, best_val_accuracy, macro_f1,
    per_class, confusion, labels, steps, epochs_done, ...
    """
    from playground.core.engine import open_parent

    open_parent(init_from if not resume else None, "image")  # a parent's Builder graph
    cfg = schema.validate(cfg)

    def job(ctx: JobContext) -> dict[str, Any]:
        from playground.core.classify import train_classification
        from playground.core.data import seed_everything
        from playground.core.engine import begin_run, epoch_loader
        from playground.core.engine import init_from as load_parent
        from playground.vision.demo import load_data
        from playground.vision.models import REGISTRY, build_model, count_parameters

        seed_everything(cfg.seed)
        ctx.emit(ev.Log(f"loading {data}"))
        prepared = load_data(data, cfg, ctx, home=home)
        ctx.check_cancelled()
        classes = prepared.classes
        entry = REGISTRY.get(cfg.model)
        model = build_model(cfg.model, len(classes), pretrained=cfg.pretrained and not resume,
                            transfer=cfg.transfer, dropout=cfg.dropout,
                            image_size=cfg.image_size, ctx=ctx)
        ctx.check_cancelled()
        parent = None
        if init_from and not resume:
            parent = load_parent(model, init_from, freeze=freeze, task="image")
        total, trainable = count_parameters(model)
        run = begin_run("image", ctx=ctx, resume=resume, home=home,
                        name=name or _default_name(cfg, data),
                        model=cfg.model, config=schema.to_dict(cfg), data_spec=data,
                        dataset=prepared.description, parent=parent, same={"classes": classes},
                        extra={"normalization": prepared.normalization,
                               "image_size": cfg.image_size, "classes": classes,
                               "model_title": entry.title, "parameters": total,
                               "trainable": trainable})
        ctx.emit(ev.RunStarted(str(run.path), "image", run.name))
        how = ("ImageNet weights, " + ("linear probe" if cfg.transfer == "linear_probe"
                                       else "fine-tune")) if cfg.pretrained else "from scratch"
        if parent is not None:
            how = parent.summary()
            ctx.emit(ev.Log(how))
        ctx.emit(ev.ModelSummary(entry.title, total, trainable,
                                 f"{how}, {len(classes)} classes, {cfg.image_size}px"))
        counts = prepared.counts()
        ctx.emit(ev.Log(f"{prepared.title}: {sum(counts.values()):,} images in "
                        f"{len(classes)} classes; {prepared.split}"))
        ctx.emit(ev.Log("images per class: " + ", ".join(f"{k} {v:,}"
                                                         for k, v in counts.items())))
        if prepared.skipped:
            ctx.emit(ev.Log(f"skipped {len(prepared.skipped)} unreadable file(s): "
                            + "; ".join(f"{os.path.basename(p)} ({r})"
                                        for p, r in prepared.skipped[:5])
                            + ("; ..." if len(prepared.skipped) > 5 else ""), level="warning"))
        if not resume:
            run.save_labels(classes)

        device = ctx.device
        batch = cfg.batch_size
        from playground.core.device import cap_to_cpus

        note = cap_to_cpus(cfg.workers, "data-loader workers")[1]
        if note:
            ctx.emit(ev.Log(note.removeprefix("note: "), level="warning"))
        train_loader = epoch_loader(prepared.train, batch, device=device, workers=cfg.workers,
                                    seed=cfg.seed, drop_last=len(prepared.train) % batch == 1)
        val_loader = None
        if prepared.val is not None and len(prepared.val):
            val_loader = epoch_loader(prepared.val, max(batch, 128), shuffle=False,
                                      device=device, workers=cfg.workers, seed=cfg.seed)

        def after_validation(epoch: int, preds: np.ndarray, targets: np.ndarray,
                             probs: np.ndarray) -> None:
            ctx.emit(misclassified_gallery(prepared.val, classes, preds, targets, probs))

        result = train_classification(ctx, run, model, train_loader, val_loader, classes, cfg,
                                      after_validation=after_validation, max_steps=max_steps,
                                      resume=bool(resume))
        result.update(model=cfg.model, parameters=total, trainable=trainable,
                      train_images=len(prepared.train),
                      val_images=len(prepared.val) if prepared.val is not None else 0)
        return result

    return job


def make_resume_job(run_dir: str | os.PathLike, *, epochs: int | None = None,
                    home: str | os.PathLike | None = None, max_steps: int | None = None
                    ) -> Callable[[JobContext], dict[str, Any]]:
    """Continue the image run in ``run_dir`` from its last checkpoint (same data, same
    settings); ``epochs`` sets a new total so a finished run can be trained further."""
    from playground.core.engine import resume_settings

    cfg, data = resume_settings(run_dir, "image", ImageTrainConfig, epochs=epochs)
    return make_train_job(cfg, data, home=home, max_steps=max_steps, resume=run_dir)
