"""Image recognition tab: pick data, train a model live, inspect it, predict on dropped images.

Thin by design: it builds an :class:`ImageTrainConfig` from the generated form, hands jobs from
``playground.vision`` to job runners, and renders the events that come back. Task modules are
imported inside methods so the window appears before torch is imported.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QFileDialog, QListWidgetItem, QTableWidgetItem, QWidget

from playground.core import events as ev
from playground.core.errors import ConfigError, PlaygroundError
from playground.ui.appctx import AppContext
from playground.ui.jobs import JobRunner
from playground.ui.registry_watch import RegistryWatcher
from playground.ui.tabs.image_config import image_config_class
from playground.ui.tabs.image_view import IMAGE_SUFFIXES, ImageTabView
from playground.ui.tabs.task_common import LatestRequest, TrainingController, run_label, task_runs
from playground.ui.widgets.combo import fill_combo

log = logging.getLogger(__name__)

SOURCES = [
    ("Shapes (built-in demo)", "demo:shapes"),
    ("Digits (built-in demo, scikit-learn)", "demo:digits"),
    ("MNIST (download)", "demo:mnist"),
    ("Fashion-MNIST (download)", "demo:fashion-mnist"),
    ("CIFAR-10 (download)", "demo:cifar10"),
    ("Folder…", "folder"),
]


def qimage_to_array(image: QImage) -> np.ndarray:
    """A copy of a QImage as uint8 RGB (H, W, 3)."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height)
    return buffer.reshape(height, stride)[:, : width * 3].reshape(height, width, 3).copy()


class ImageTab(QWidget):
    def __init__(self, appctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.appctx = appctx
        self.view = ImageTabView(image_config_class())
        from PySide6.QtWidgets import QVBoxLayout

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.train_runner = JobRunner("training", self)
        self.data_runner = JobRunner("data", self)
        self.info_runner = JobRunner("model", self)
        self.predict_runner = JobRunner("predict", self)
        for runner in (self.train_runner, self.data_runner, self.predict_runner):
            appctx.watch(runner)
        self.data_spec: str = "demo:shapes"
        self.folder: str | None = None
        self._last_prediction: dict[str, Any] | None = None
        self._pending_predict: list[Any] = []
        self._sources: dict[str, Any] = {}
        v = self.view
        for title, spec in SOURCES:
            v.source_combo.addItem(title, spec)
        from playground.vision.models import REGISTRY

        self.models = RegistryWatcher(REGISTRY, self)  # the model menu follows the registry
        self.training = TrainingController(
            appctx, "image", v, self.train_runner, unit="epochs",
            locked=lambda: (v.form, v.source_combo, v.data_drop),
            on_start=self._clear_training_views,
            metric_text=lambda e: f", val accuracy {e.metric:.3f}",
            summary=lambda r: (f"validation accuracy {r['val_accuracy']:.1%}"
                               if r.get("val_accuracy") is not None else None), parent=self)
        self.model_info = LatestRequest(self.info_runner, self._request_model_info,
                                        self._show_model_info, self)
        self._connect_signals()
        self.refresh_runs()
        self.appctx.torch_ready.connect(self._on_torch_ready)
        if self.appctx.torch_loaded:
            self._on_torch_ready()

    # wiring ---------------------------------------------------------------------------------
    def _connect_signals(self) -> None:
        v = self.view
        v.source_combo.currentIndexChanged.connect(self._on_source_changed)
        v.data_drop.dropped.connect(lambda paths: self.set_folder(paths[0]))
        v.data_drop.rejected.connect(self.appctx.warn)
        v.train_button.clicked.connect(self.start_training)
        v.form.changed.connect(self._on_form_changed)
        self.models.changed.connect(self._on_models_changed)
        self.training.other_event.connect(self._on_train_event)
        self.training.ended.connect(self._on_train_finished)
        self.data_runner.finished.connect(self._on_data_finished)
        self.predict_runner.finished.connect(self._on_predict_finished)
        v.predict_drop.dropped.connect(self.predict_files)
        v.predict_drop.rejected.connect(self.appctx.warn)
        v.paste_button.clicked.connect(self.paste_image)
        QShortcut(QKeySequence.StandardKey.Paste, self, activated=self.paste_image)
        v.gradcam_check.toggled.connect(self._on_gradcam_toggled)
        v.refresh_runs_button.clicked.connect(self.refresh_runs)
        v.run_combo.currentIndexChanged.connect(self._on_run_selected)
        v.run_combo.activated.connect(lambda: self.training.select_run(v.run_combo.currentData()))
        v.files_list.currentItemChanged.connect(self._on_file_selected)

    def _on_torch_ready(self) -> None:
        self.apply_recipe(announce=False)  # at start-up the form just shows the demo's recipe
        self.load_data_preview()
        self.update_model_info()

    def apply_recipe(self, announce: bool = True) -> None:
        """Put the chosen demo's tuned settings into the form (folders keep what is there);
        ``announce`` says so in the status bar (when the user picked the demo)."""
        if not self.appctx.torch_loaded or not self.data_spec.startswith("demo:"):
            return
        from playground.vision.demo import DEMOS, apply_recipe

        name = self.data_spec.split(":", 1)[1]
        recipe = DEMOS[name].recipe if name in DEMOS else {}
        if not recipe:
            return
        self.view.form.set_value(apply_recipe(self._config_or_default(), self.data_spec))
        if announce:
            settings = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in recipe.items())
            self.appctx.info(f"Recommended settings for {DEMOS[name].title}: {settings}.")

    # data -----------------------------------------------------------------------------------
    def _on_source_changed(self) -> None:
        spec = self.view.source_combo.currentData()
        if spec == "folder":
            if self.folder:
                self.data_spec = self.folder
                self.load_data_preview()
            else:
                self.open_folder()
            return
        self.data_spec = spec
        self.apply_recipe()
        self.load_data_preview()
        self.update_model_info()

    def open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose an image folder (one sub-folder "
                                                "per class)")
        if path:
            self.set_folder(path)

    def set_folder(self, path: str) -> None:
        self.folder = str(path)
        self.data_spec = self.folder
        combo = self.view.source_combo
        index = combo.findData("folder")
        combo.blockSignals(True)
        combo.setCurrentIndex(index)
        combo.setItemText(index, f"Folder: {Path(path).name}")
        combo.blockSignals(False)
        self.load_data_preview()

    def load_data_preview(self) -> None:
        """Scan the chosen data on a worker: class counts, thumbnails, skipped files."""
        if not self.appctx.torch_loaded:
            return
        if self.data_runner.is_busy():
            self.data_runner.cancel()
            self.data_runner.wait()
        from playground.vision.jobs import preview_job

        spec = self.data_spec
        self.view.data_summary.setText(f"Reading {spec}…")
        self.data_runner.start(preview_job(spec, self._config_or_default()), "cpu")

    def _on_data_finished(self, event: ev.Event) -> None:
        v = self.view
        if isinstance(event, ev.Failed):
            v.data_summary.setText(event.message)
            v.data_summary.setStyleSheet("color: #b00020;")
            v.class_table.setRowCount(0)
            v.thumbnails.set_images([], [])
            self.appctx.error(event.message, event.details)
            return
        if not isinstance(event, ev.Finished) or event.stopped or not event.result:
            return
        info = event.result
        v.data_summary.setStyleSheet("")
        counts: dict[str, int] = info["counts"]
        total = sum(counts.values())
        split = info.get("split", "")
        v.data_summary.setText(f"{info.get('title', self.data_spec)}: {total:,} images in "
                               f"{len(counts)} classes; {split}")
        v.class_table.setRowCount(len(counts))
        for row, (name, count) in enumerate(counts.items()):
            v.class_table.setItem(row, 0, QTableWidgetItem(name))
            item = QTableWidgetItem(f"{count:,}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            v.class_table.setItem(row, 1, item)
        thumbs = info.get("thumbnails", [])
        v.thumbnails.set_images([a for _, a in thumbs], [c for c, _ in thumbs])
        skipped = info.get("skipped", [])
        v.skipped_list.clear()
        v.skipped_list.setVisible(bool(skipped))
        for path, reason in skipped:
            v.skipped_list.addItem(f"skipped {Path(path).name}: {reason}")
        if skipped:
            self.appctx.warn(f"{len(skipped)} file(s) could not be read and will be skipped.")

    # model info -----------------------------------------------------------------------------
    def _on_form_changed(self) -> None:
        self.update_model_info()

    def _on_models_changed(self) -> None:
        """A model was registered or removed (a builder graph): refresh the menu and info."""
        self.view.form.refresh_choices()
        self.update_model_info()

    def update_model_info(self) -> None:
        if self.appctx.torch_loaded:
            self.model_info.update()

    def _request_model_info(self) -> None:
        try:
            cfg = self.view.form.value()
        except ConfigError as exc:
            self.view.model_info.setText(str(exc))
            return
        from playground.vision.jobs import model_info_job

        classes = max(2, self.view.class_table.rowCount())
        self.info_runner.start(model_info_job(cfg, num_classes=classes), "cpu")

    def _show_model_info(self, event: ev.Event) -> None:
        if isinstance(event, ev.Finished) and isinstance(event.result, dict):
            r = event.result
            self.view.model_info.setText(
                f"<b>{r['title']}</b> ({r['family']}): {r['parameters']:,} parameters, "
                f"{r['trainable']:,} trainable. {r.get('description', '')}")
        elif isinstance(event, ev.Failed):
            self.view.model_info.setText(event.message)

    # training -------------------------------------------------------------------------------
    def _config_or_default(self):
        try:
            return self.view.form.value()
        except ConfigError:
            return image_config_class()()

    def start_training(self) -> None:
        if self.train_runner.is_busy():
            return
        try:
            cfg = self.view.form.value()
        except ConfigError as exc:
            self.appctx.error(str(exc))
            return
        from playground.vision.train import make_train_job

        init_from, freeze = self.training.init_from()
        try:
            job = make_train_job(cfg, self.data_spec, init_from=init_from, freeze=freeze)
        except PlaygroundError as exc:
            self.appctx.error(str(exc))
            return
        start = f" from {Path(init_from).name}" if init_from else ""
        self.training.start(job, f"Training {cfg.model}{start} on {self.data_spec}…")

    def _clear_training_views(self) -> None:
        self.view.misclassified.set_images([], [])

    @property
    def current_run(self) -> str | None:
        """The run being trained, or the one trained last."""
        return self.training.current_run

    def stop_training(self) -> None:
        self.training.stop()

    def resume_run(self, run_dir: str) -> None:
        """Select ``run_dir`` and resume it from its last checkpoint (to the box's total)."""
        self.training.resume(str(run_dir))

    def start_from_run(self, run_dir: str, checkpoint: str = "best") -> None:
        """Make Train start a new run from ``run_dir``'s ``checkpoint`` (best / last)."""
        self.training.start_from_run(str(run_dir), checkpoint)

    def _on_train_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.ImageSamples):
            self.view.misclassified.set_samples(event)

    def _on_train_finished(self, event: ev.Event) -> None:
        self.refresh_runs(select=self.current_run)

    # predict --------------------------------------------------------------------------------
    def refresh_runs(self, select: str | None = None) -> None:
        try:
            runs = task_runs("image")
        except OSError as exc:
            self.appctx.error(f"Could not list runs: {exc}")
            runs = []
        items = [(run_label(run), run.path) for run in runs]
        fill_combo(self.view.run_combo, items, select=select,
                   empty="No trained image runs yet — train one first")

    def _on_run_selected(self) -> None:
        self._last_prediction = None
        self.view.bars.clear()

    def open_images(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Choose images to classify", "",
            "Images (" + " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES)) + ")")
        if files:
            self.predict_files(files)

    def paste_image(self) -> None:
        image = QApplication.clipboard().image()
        if image.isNull():
            self.appctx.warn("The clipboard holds no image. Copy an image first, then paste.")
            return
        self.predict_inputs([("clipboard", qimage_to_array(image))])

    def predict_files(self, paths: list[str]) -> None:
        self.predict_inputs([(os.path.basename(p), p) for p in paths])

    def predict_inputs(self, inputs: list[tuple[str, Any]]) -> None:
        """Classify ``(name, path-or-array)`` items with the selected run, on a worker."""
        run_dir = self.view.run_combo.currentData()
        self.view.pages.setCurrentIndex(2)
        if not run_dir:
            self.appctx.error("No trained image model yet: train a run (or pick a saved run) "
                              "before predicting.")
            return
        if not self.appctx.torch_loaded:
            self.appctx.info("Still loading PyTorch; try again in a moment.")
            return
        if self.predict_runner.is_busy():
            self._pending_predict = inputs
            return
        self._sources = dict(inputs)
        from playground.vision.jobs import make_predict_job

        gradcam = self.view.gradcam_check.isChecked()
        job = make_predict_job(run_dir, inputs, top_k=5, gradcam=gradcam,
                               device=self.appctx.device)
        self.predict_runner.start(job, self.appctx.device)

    def _on_predict_finished(self, event: ev.Event) -> None:
        v = self.view
        if isinstance(event, ev.Failed):
            self.appctx.error(event.message, event.details)
        elif isinstance(event, ev.Finished) and event.result:
            results = event.result
            v.files_list.clear()
            for r in results:
                if r.get("error"):
                    item = QListWidgetItem(f"{r['name']}: {r['error']}")
                    item.setForeground(Qt.GlobalColor.red)
                else:
                    top = r["predictions"][0]
                    item = QListWidgetItem(f"{r['name']}: {top[0]} ({top[1]:.1%})")
                item.setData(Qt.ItemDataRole.UserRole, r)
                v.files_list.addItem(item)
            errors = [r for r in results if r.get("error")]
            if errors:
                self.appctx.warn(f"{len(errors)} of {len(results)} file(s) could not be "
                                 f"classified: " + "; ".join(f"{r['name']} ({r['error']})"
                                                              for r in errors[:3]))
            good = [i for i, r in enumerate(results) if not r.get("error")]
            if good:
                v.files_list.setCurrentRow(good[0])
        if self._pending_predict:
            pending, self._pending_predict = self._pending_predict, []
            self.predict_inputs(pending)

    def _on_file_selected(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        result = item.data(Qt.ItemDataRole.UserRole)
        if not result or result.get("error"):
            return
        self._last_prediction = result
        v = self.view
        v.bars.set_predictions(result["predictions"])
        v.predict_title.setText(f"Top-{len(result['predictions'])} classes for {result['name']}")
        v.image_view.set_image(result["original"])
        v.image_view.set_overlay(result.get("heatmap"))  # (H, W) in 0..1, drawn as heat
        v.image_view.show_overlay(v.gradcam_check.isChecked())

    def _on_gradcam_toggled(self, on: bool) -> None:
        last = self._last_prediction
        if on and last is not None and last.get("heatmap") is None:
            source = self._sources.get(last["name"])
            if source is not None:  # predicted without Grad-CAM: compute it now
                self.predict_inputs([(last["name"], source)])
                return
        self.view.image_view.show_overlay(on)

    # lifecycle ------------------------------------------------------------------------------
    def shutdown(self) -> None:
        for runner in (self.train_runner, self.data_runner, self.info_runner,
                       self.predict_runner):
            runner.shutdown()
