"""Speech tab: hear and see audio, record it, train a keyword recognizer or a speech-to-text
model live, and use them on a dropped or recorded clip.

Thin by design: the options come from the schema forms (:class:`KeywordTrainConfig`,
:class:`CTCTrainConfig`), every long piece of work is a Qt-free job from ``playground.speech``
handed to a :class:`JobRunner`, and the events that come back are rendered. This module holds
the task switch, the data source and training; :class:`~playground.ui.tabs.speech_clip.
ClipController` holds the Audio page (clip, microphone, playback, recognition, transcription).
Modules that import torch are imported inside methods, after ``torch_ready``; the data preview
waits until the tab is first shown (synthesising the demo with espeak-ng takes a while, and a
user who never opens the tab should not pay for it).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QListWidgetItem, QTableWidgetItem, QVBoxLayout, QWidget

from playground.core import events as ev
from playground.core.errors import ConfigError, DatasetError, PlaygroundError
from playground.speech.audio import SUPPORTED_EXTENSIONS
from playground.speech.datasets import DEFAULT_LABEL_PATTERN
from playground.speech.models import REGISTRY
from playground.speech.train import CTCTrainConfig, KeywordTrainConfig
from playground.ui.appctx import AppContext
from playground.ui.jobs import JobRunner, cancel_and_join
from playground.ui.recorder import AudioBackend
from playground.ui.registry_watch import RegistryWatcher, apply_model_uses
from playground.ui.tabs.settings_column import ERROR_STYLE, ready_to_train
from playground.ui.tabs.speech_clip import ClipController, DatasetTarget
from playground.ui.tabs.speech_view import (
    PAGE_AUDIO,
    PAGE_TRAINING,
    TASKS,
    WARNING_STYLE,
    SpeechTabView,
)
from playground.ui.tabs.task_common import LatestRequest, TrainingController

log = logging.getLogger(__name__)

DEMO = "demo:digits"
RECORDINGS = "recordings"
FOLDER = "folder"
SOURCES = {
    "keywords": [("Spoken digits (built-in demo)", DEMO),
                 ("My recordings (clips recorded here)", RECORDINGS), ("Folder…", FOLDER)],
    "ctc": [("Spoken digit sequences (built-in demo, needs espeak-ng)", DEMO),
            ("Folder…", FOLDER)],
}
HINTS = {
    "keywords": "Recognise a spoken word: train on clips sorted by label (a sub-folder per "
                "label, or the label in the file name), then drop or record a clip.",
    "ctc": "Transcribe speech to text: train a CTC model on clips with transcripts "
           "(metadata.csv or same-named .txt files), or use pretrained wav2vec 2.0.",
}
DROP_HINTS = {
    "keywords": "Drop a folder with one sub-folder per label (or clips named like "
                "yes_001.wav), or click to choose…",
    "ctc": "Drop a folder with metadata.csv (file|transcript) or audio files with "
           "same-named .txt transcripts, or click to choose…",
}


class SpeechTab(QWidget):
    """Controller of :class:`SpeechTabView`; ``audio_backend`` replaces the microphone (tests)."""

    def __init__(self, appctx: AppContext, parent: QWidget | None = None, *,
                 audio_backend: AudioBackend | None = None) -> None:
        super().__init__(parent)
        self.appctx = appctx
        self.view = SpeechTabView(KeywordTrainConfig, CTCTrainConfig, set(SUPPORTED_EXTENSIONS))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.data_runner = JobRunner("data", self)
        self.info_runner = JobRunner("model", self)
        self.train_runner = JobRunner("training", self)
        for runner in (self.data_runner, self.train_runner):
            appctx.watch(runner)
        self.clip = ClipController(appctx, self.view, backend=audio_backend,
                                   dataset_target=self.recording_target,
                                   on_added=self._on_clip_added, parent=self)
        self.task = "keywords"
        self.specs: dict[str, str] = {"keywords": DEMO, "ctc": DEMO}
        self.folders: dict[str, str | None] = {"keywords": None, "ctc": None}
        self.label_pattern = DEFAULT_LABEL_PATTERN
        self.data_info: dict[str, dict[str, Any]] = {}
        self._training_task = "keywords"
        self._started = False
        self._preview_key: tuple[str, str] | None = None
        self.view.pattern_edit.setText(self.label_pattern)
        self.models = RegistryWatcher(REGISTRY, self)  # the model menus follow the registry
        v = self.view
        self.training = TrainingController(
            appctx, "speech", v, self.train_runner, unit="epochs",
            locked=lambda: (v.keyword_form, v.ctc_form, v.source_combo, v.data_drop,
                            v.pattern_edit, v.keywords_button, v.ctc_button),
            speech_task=lambda: self.task, on_start=self._clear_training_views,
            metric_text=self._metric_text, summary=self._summary,
            training_page=PAGE_TRAINING, parent=self)
        self.model_info = LatestRequest(self.info_runner, self._request_model_info,
                                        self._show_model_info, self)
        self._connect_signals()
        self._apply_model_fields()
        self.set_task("keywords")
        self.clip.refresh_runs()
        appctx.torch_ready.connect(self._ensure_started)

    # wiring ---------------------------------------------------------------------------------
    def _connect_signals(self) -> None:
        v = self.view
        v.task_group.idClicked.connect(lambda k: self.set_task(TASKS[k]))
        v.source_combo.currentIndexChanged.connect(self._on_source_changed)
        v.data_drop.dropped.connect(lambda paths: self.set_folder(paths[0]))
        v.data_drop.rejected.connect(self.appctx.warn)
        v.pattern_edit.editingFinished.connect(self._on_pattern_edited)
        v.keyword_form.changed.connect(self._on_form_changed)
        v.ctc_form.changed.connect(self._on_form_changed)
        self.models.changed.connect(self._on_models_changed)
        v.train_button.clicked.connect(self.start_training)
        self.data_runner.finished.connect(self._on_data_finished)
        self.training.other_event.connect(self._on_train_event)
        self.training.ended.connect(self._on_train_finished)
        v.run_combo.activated.connect(lambda: self.training.select_run(v.run_combo.currentData()))

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self._ensure_started()

    def _ensure_started(self) -> None:
        """First time the tab is visible with torch loaded: scan data, size the model."""
        if self._started or not self.appctx.torch_loaded or not self.isVisible():
            return
        self._started = True
        self.clip.refresh_devices()
        self.load_data_preview()
        self.update_model_info()

    # task -----------------------------------------------------------------------------------
    def set_task(self, task: str) -> None:
        if task not in TASKS:
            raise ValueError(f"unknown speech task {task!r}")
        self.task = task
        v = self.view
        keywords = task == "keywords"
        (v.keywords_button if keywords else v.ctc_button).setChecked(True)
        v.task_hint.setText(HINTS[task])
        v.forms.setCurrentIndex(TASKS.index(task))
        v.eval_stack.setCurrentIndex(TASKS.index(task))
        v.samples.setVisible(not keywords)
        v.class_table.setVisible(keywords)
        v.data_drop.set_hint(DROP_HINTS[task])
        combo = v.source_combo
        combo.blockSignals(True)
        combo.clear()
        for title, spec in SOURCES[task]:
            combo.addItem(title, spec)
        spec = self.specs[task]
        kind = DEMO if spec == DEMO else RECORDINGS if spec == RECORDINGS else FOLDER
        combo.setCurrentIndex(max(0, combo.findData(kind)))
        if kind == FOLDER and self.folders[task]:
            combo.setItemText(combo.currentIndex(), f"Folder: {Path(self.folders[task]).name}")
        combo.blockSignals(False)
        self._update_pattern_row()
        self.clip.set_task(task)
        if hasattr(self, "training"):
            self.training.refresh_runs()  # runs of this kind only
        self._show_data_info()
        if self._started:
            self.load_data_preview()
            self.update_model_info()

    def form(self):
        return self.view.keyword_form if self.task == "keywords" else self.view.ctc_form

    def _update_pattern_row(self) -> None:
        spec = self.specs["keywords"]
        self.view.pattern_row.setVisible(self.task == "keywords"
                                         and spec not in (DEMO, RECORDINGS))

    # data -----------------------------------------------------------------------------------
    def data_spec(self, task: str | None = None) -> str:
        """What training reads: ``demo:digits`` or a folder path."""
        task = task or self.task
        spec = self.specs[task]
        if spec == RECORDINGS:
            from playground.speech.jobs import recordings_folder

            return str(recordings_folder())
        return spec

    def _on_source_changed(self) -> None:
        kind = self.view.source_combo.currentData()
        if kind == FOLDER:
            folder = self.folders[self.task]
            if folder:
                self.specs[self.task] = folder
                self._source_updated()
            else:
                self.view.data_drop.choose_folder()
            return
        self.specs[self.task] = kind
        self._source_updated()

    def set_folder(self, path: str) -> None:
        """Use the dataset folder ``path`` for the current task."""
        self.folders[self.task] = str(path)
        self.specs[self.task] = str(path)
        combo = self.view.source_combo
        index = combo.findData(FOLDER)
        combo.blockSignals(True)
        combo.setCurrentIndex(index)
        combo.setItemText(index, f"Folder: {Path(path).name}")
        combo.blockSignals(False)
        self._source_updated()

    def use_recordings(self) -> None:
        if self.task != "keywords":
            self.set_task("keywords")
        combo = self.view.source_combo
        combo.setCurrentIndex(combo.findData(RECORDINGS))

    def _source_updated(self) -> None:
        self._update_pattern_row()
        self.clip.update_add_target()
        self.load_data_preview()

    def _on_pattern_edited(self) -> None:
        text = self.view.pattern_edit.text().strip() or DEFAULT_LABEL_PATTERN
        if text == self.label_pattern:
            return
        from playground.speech.datasets import compile_label_pattern

        try:
            compile_label_pattern(text)
        except ConfigError as exc:
            self.view.pattern_edit.setStyleSheet(ERROR_STYLE)
            self.appctx.error(str(exc))
            return
        self.view.pattern_edit.setStyleSheet("")
        self.label_pattern = text
        if self.task == "keywords":
            self.load_data_preview()

    def load_data_preview(self) -> None:
        """Scan the chosen data on a worker: labels, counts, clip lengths, unreadable files."""
        if not self._started:
            return
        if self.data_runner.is_busy():
            self.data_runner.cancel()
            self.data_runner.wait()
        from playground.speech.jobs import keyword_preview_job, transcript_preview_job

        spec = self.data_spec()
        self._preview_key = (self.task, spec)
        self.view.data_summary.setText(f"Reading {spec}…")
        self.view.data_summary.setStyleSheet("")
        if self.task == "keywords":
            job = keyword_preview_job(spec, self.label_pattern)
        else:
            cfg = self._config_or_default()
            job = transcript_preview_job(spec, lowercase=cfg.lowercase,
                                         demo_clips=cfg.demo_clips)
        self.data_runner.start(job, "cpu")

    def _on_data_finished(self, event: ev.Event) -> None:
        key, self._preview_key = self._preview_key, None
        if key is None or key != (self.task, self.data_spec()):
            return  # the user switched task or data meanwhile
        if isinstance(event, ev.Failed):
            self.data_info.pop(self.task, None)
            self._show_data_info(error=event.message)
            if self.specs[self.task] == RECORDINGS and event.error_type == "DatasetError":
                self.appctx.info("My recordings: " + event.message)
            elif event.error_type == "DatasetError" and self.specs[self.task] == DEMO:
                self.appctx.warn(event.message)
            else:
                self.appctx.error(event.message, event.details)
            return
        if not isinstance(event, ev.Finished) or event.stopped or not event.result:
            return
        self.data_info[self.task] = event.result
        self._show_data_info()
        for warning in event.result.get("warnings", []):
            self.view.log.append_line(warning, "warning")
        unreadable = event.result.get("unreadable", [])
        if unreadable:
            self.appctx.warn(f"{len(unreadable)} file(s) could not be read and will be skipped.")
        self.update_model_info()

    def _show_data_info(self, error: str | None = None) -> None:
        v = self.view
        info = self.data_info.get(self.task)
        v.unreadable_list.clear()
        v.class_table.setRowCount(0)
        if error is not None or info is None:
            v.data_summary.setText(error or "Pick a data source.")
            v.data_summary.setStyleSheet(ERROR_STYLE if error else "")
            v.unreadable_list.hide()
            self._update_pattern_row()
            return
        v.data_summary.setStyleSheet(WARNING_STYLE if info.get("pending") else "")
        if self.task == "keywords":
            st = info["stats"]
            s = st["seconds"]
            text = (f"<b>{info['title']}</b>: {st['clips']:,} clips in {st['labels']} labels "
                    f"({info['layout']}); clips {s['min']:.2f}–{s['max']:.2f} s "
                    f"(mean {s['mean']:.2f} s).")
            if info.get("unlabeled"):
                text += (f" {len(info['unlabeled'])} file(s) have no label in their name "
                         f"(e.g. {info['unlabeled'][0]}).")
            v.data_summary.setText(text)
            per_label = st["per_label"]
            v.class_table.setRowCount(len(info["labels"]))
            for row, label in enumerate(info["labels"]):
                entry = per_label.get(label, {"count": 0, "seconds": {"mean": 0.0}})
                sec = entry["seconds"]
                for col, text in enumerate((label, f"{entry['count']:,}",
                                            f"{sec['mean']:.2f} ({sec.get('min', 0):.2f}–"
                                            f"{sec.get('max', 0):.2f})")):
                    v.class_table.setItem(row, col, QTableWidgetItem(text))
            v.class_table.resizeColumnsToContents()
            self.clip.set_labels(info["labels"])
        elif info.get("pending"):
            v.data_summary.setText(f"<b>{info['title']}</b>: {info['summary']}")
        else:
            st = info["stats"]
            s = st["seconds"]
            examples = "".join(f"<br>· {name}: “{text}”" for name, text in
                               info.get("examples", [])[:3])
            v.data_summary.setText(
                f"<b>{info['title']}</b>: {st['clips']:,} clips ({s['total'] / 60:.1f} min, "
                f"{s['min']:.1f}–{s['max']:.1f} s each) from {info['source']}; "
                f"{st['characters']} characters: “{info['vocab']}”{examples}")
        for name, reason in info.get("unreadable", []):
            item = QListWidgetItem(f"skipped {name}: {reason}")
            v.unreadable_list.addItem(item)
        v.unreadable_list.setVisible(bool(info.get("unreadable")))
        self._update_pattern_row()

    # recordings into the dataset ------------------------------------------------------------
    def recording_target(self) -> DatasetTarget:
        """Where "Add to dataset" writes: the keyword folder in use, else My recordings."""
        from playground.speech.jobs import recordings_folder

        spec = self.specs["keywords"]
        if spec not in (DEMO, RECORDINGS):
            info = self.data_info.get("keywords", {})
            layout = info.get("layout", "folders") if info.get("spec") == spec else "folders"
            if layout == "split-folders":
                return Path(spec) / "train", "folders", self.label_pattern, \
                    f"{Path(spec).name}/train"
            return Path(spec), layout, self.label_pattern, f"the folder {Path(spec).name}"
        return recordings_folder(), "folders", DEFAULT_LABEL_PATTERN, "My recordings"

    def _on_clip_added(self, path: Path) -> None:
        if self.specs["keywords"] == DEMO:
            self.use_recordings()  # the clip went to My recordings: show that dataset
        else:
            self.load_data_preview()

    # model info -----------------------------------------------------------------------------
    def _config_or_default(self):
        try:
            return self.form().value()
        except ConfigError:
            return KeywordTrainConfig() if self.task == "keywords" else CTCTrainConfig()

    def _on_models_changed(self) -> None:
        """A model was registered or removed (a builder graph): refresh the menus and info."""
        for form in (self.view.keyword_form, self.view.ctc_form):
            form.refresh_choices()
        self._apply_model_fields()
        self.update_model_info()

    def _apply_model_fields(self) -> None:
        """Grey out the options the chosen model does not read (its entry's ``uses``)."""
        for form in (self.view.keyword_form, self.view.ctc_form):
            apply_model_uses(form, REGISTRY)

    def _on_form_changed(self, name: str = "") -> None:
        if name in ("model", ""):
            self._apply_model_fields()
        self.update_model_info()
        if self.task == "ctc" and name in ("demo_clips", "lowercase") \
                and self.specs["ctc"] == DEMO:
            self.load_data_preview()

    def update_model_info(self) -> None:
        if self._started:
            self.model_info.update()

    def _request_model_info(self) -> None:
        try:
            cfg = self.form().value()
        except ConfigError as exc:
            self.view.model_info.setText(str(exc))
            return
        from playground.speech.jobs import model_info_job

        info = self.data_info.get(self.task, {})
        if self.task == "keywords":
            classes = len(info.get("labels", [])) or 10
        else:
            classes = len(info.get("vocab", "")) + 1 if info.get("vocab") else 28
        self.info_runner.start(model_info_job(cfg, self.task, classes), "cpu")

    def _show_model_info(self, event: ev.Event) -> None:
        if isinstance(event, ev.Finished) and isinstance(event.result, dict):
            r = event.result
            if r.get("task") == self.task:
                self.view.model_info.setText(
                    f"<b>{r['title']}</b> ({r['family']}): {r['parameters']:,} parameters. "
                    f"{r.get('description', '')}")
        elif isinstance(event, ev.Failed):
            self.view.model_info.setText(event.message)

    # training -------------------------------------------------------------------------------
    def start_training(self) -> None:
        if not ready_to_train(self.appctx, self.train_runner):
            return
        init_from, freeze = self.training.init_from()
        try:
            cfg = self.form().value()
            spec = self.data_spec()
            if self.task == "keywords":
                from playground.speech.train import make_keyword_job

                job = make_keyword_job(cfg, spec, label_pattern=self.label_pattern,
                                       init_from=init_from, freeze=freeze)
            else:
                from playground.speech.train import make_ctc_job

                job = make_ctc_job(cfg, spec, init_from=init_from, freeze=freeze)
        except (ConfigError, DatasetError) as exc:
            self.appctx.error(str(exc))
            return
        except PlaygroundError as exc:
            self.appctx.error(str(exc))
            return
        start = f" from {Path(init_from).name}" if init_from else ""
        self.training.start(job, f"Training {cfg.model}{start} on {spec}…")

    def _clear_training_views(self) -> None:
        v = self.view
        v.samples.set_text("")
        v.eval_samples.set_text("")
        v.confusion.summary.setText("The confusion matrix appears after the first validation.")
        v.report.clear_report()
        v.eval_posteriorgram.clear_alignment()
        self._training_task = self.task

    def _metric_text(self, event: ev.CheckpointSaved) -> str:
        return (f", val accuracy {event.metric:.3f}" if self._training_task == "keywords"
                else f", val CER {event.metric:.3f}")

    @staticmethod
    def _summary(r: dict[str, Any]) -> str | None:
        if r.get("val_accuracy") is not None:
            return f"validation accuracy {r['val_accuracy']:.1%}"
        if r.get("val_cer") is not None:
            return f"validation CER {r['val_cer']:.1%}, WER {r['val_wer']:.1%}"
        return None

    @property
    def current_run(self) -> str | None:
        """The run being trained, or the one trained last."""
        return self.training.current_run

    def stop_training(self) -> None:
        self.training.stop()

    def _run_kind(self, run_dir: str) -> None:
        """Show the task (keywords / speech-to-text) of the speech run ``run_dir``."""
        from playground.core.runs import open_run

        try:
            kind = open_run(run_dir, "speech").info().get("speech_task")
        except (PlaygroundError, OSError) as exc:
            self.appctx.error(str(exc))
            return
        if kind in TASKS and kind != self.task:
            self.set_task(kind)

    def resume_run(self, run_dir: str) -> None:
        """Select ``run_dir`` (switching to its task) and resume it from its last checkpoint."""
        self._run_kind(str(run_dir))
        self.training.resume(str(run_dir))

    def start_from_run(self, run_dir: str, checkpoint: str = "best") -> None:
        """Make Train start a new run from ``run_dir``'s ``checkpoint`` (best / last)."""
        self._run_kind(str(run_dir))
        self.training.start_from_run(str(run_dir), checkpoint)

    def _on_train_event(self, event: ev.Event) -> None:
        v = self.view
        if isinstance(event, ev.SampleText):
            v.samples.append_sample(event.text, f"step {event.step}")
            v.eval_samples.set_text(event.text)
        elif isinstance(event, ev.Alignment):
            v.eval_posteriorgram.set_alignment(event.posteriors, event.labels, event.emissions,
                                               event.frame_seconds)

    def _on_train_finished(self, event: ev.Event) -> None:
        self.clip.refresh_runs(select=self.current_run)
        if self.current_run and self._training_task == "keywords" \
                and self.task == "keywords" and self.clip.clip is not None:
            self.clip.predict()

    # lifecycle ------------------------------------------------------------------------------
    def runners(self) -> list[JobRunner]:
        return [self.train_runner, self.data_runner, self.info_runner, *self.clip.runners()]

    def show_audio_page(self) -> None:
        self.view.pages.setCurrentIndex(PAGE_AUDIO)

    def shutdown(self) -> None:
        """Stop recording and playback, cancel and join every job (the window is closing)."""
        self.clip.shutdown()
        cancel_and_join((self.train_runner, self.data_runner, self.info_runner))
