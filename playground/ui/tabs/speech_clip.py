"""The Speech tab's Audio page behaviour: the clip, the microphone, playback, and what the
models say about the clip (keyword probabilities with saliency, or a timed transcript with its
alignment).

:class:`ClipController` drives the widgets of :class:`~playground.ui.tabs.speech_view.
SpeechTabView`'s Audio page. Decoding a file, recognising and transcribing run on job runners
(``playground.speech.jobs``); recording runs on the UI thread's event loop through
:class:`~playground.ui.recorder.Recorder` (polling a buffered device costs nothing).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from playground.core import events as ev
from playground.core.errors import PlaygroundError
from playground.ui.appctx import AppContext
from playground.ui.jobs import JobRunner, cancel_and_join
from playground.ui.recorder import (
    NO_MICROPHONE,
    AudioBackend,
    AudioDeviceError,
    ClipPlayer,
    Recorder,
)
from playground.ui.tabs.settings_column import ERROR_STYLE
from playground.ui.tabs.speech_view import MUTED_STYLE, WARNING_STYLE, SpeechTabView
from playground.ui.widgets.combo import fill_combo

log = logging.getLogger(__name__)

WAV2VEC2_TITLE = "wav2vec 2.0 (pretrained, English; downloads about 360 MB once)"
WAVEFORM_REFRESH_S = 0.25

# (root folder, layout, label pattern, description) of where "Add to dataset" writes
DatasetTarget = tuple[Path, str, str, str]


def clock(seconds: float) -> str:
    """``75.25`` -> ``"1:15.25"``; hours when needed."""
    minutes, sec = divmod(max(0.0, float(seconds)), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{sec:05.2f}" if hours else f"{minutes}:{sec:05.2f}"


def transcript_text(result: dict[str, Any]) -> str:
    """One line per segment: ``[0:01.20 – 0:03.40] the text``."""
    lines = [f"[{clock(s['start'])} – {clock(s['end'])}] {s['text']}"
             for s in result.get("segments", [])]
    return "\n".join(lines)


class ClipController(QObject):
    """Behaviour of the Audio page: load, record, play, save, label, recognise, transcribe."""

    def __init__(self, appctx: AppContext, view: SpeechTabView, *,
                 backend: AudioBackend | None = None,
                 dataset_target: Callable[[], DatasetTarget],
                 on_added: Callable[[Path], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.appctx = appctx
        self.view = view
        self.dataset_target = dataset_target
        self.on_added = on_added
        self.recorder = Recorder(backend, self)
        self.player = ClipPlayer(self)
        self.clip_runner = JobRunner("audio", self)
        self.predict_runner = JobRunner("recognise", self)
        self.transcribe_runner = JobRunner("transcribe", self)
        for runner in self.runners():
            appctx.watch(runner)
        self.task = "keywords"
        self.clip: dict[str, Any] | None = None
        self.last_prediction: dict[str, Any] | None = None
        self.last_transcript: dict[str, Any] | None = None
        self._loading: tuple[Any, str] | None = None
        self._pending_clip: tuple[Any, str] | None = None
        self._pending_predict = False
        self._recordings = 0
        self._last_wave_update = 0.0
        self._closing = False
        self._connect_signals()
        self.show_recording_ui(False)

    def runners(self) -> list[JobRunner]:
        return [self.clip_runner, self.predict_runner, self.transcribe_runner]

    def _connect_signals(self) -> None:
        v = self.view
        v.clip_drop.dropped.connect(lambda paths: self.load_file(paths[0]))
        v.clip_drop.rejected.connect(self.appctx.warn)
        v.refresh_devices_button.clicked.connect(self.refresh_devices)
        v.record_button.clicked.connect(self.toggle_recording)
        v.play_button.clicked.connect(self.toggle_playback)
        v.save_button.clicked.connect(lambda: self.save_clip_as())
        v.add_button.clicked.connect(self.add_to_dataset)
        v.refresh_runs_button.clicked.connect(lambda: self.refresh_runs())
        v.refresh_transcribers_button.clicked.connect(lambda: self.refresh_runs())
        v.run_combo.currentIndexChanged.connect(self._on_run_selected)
        v.predict_button.clicked.connect(self.predict)
        v.saliency_check.toggled.connect(v.spectrogram.show_overlay)
        v.transcribe_button.clicked.connect(self.transcribe)
        v.transcribe_stop_button.clicked.connect(self.transcribe_runner.cancel)
        self.recorder.started.connect(self._on_recording_started)
        self.recorder.chunk.connect(self._on_chunk)
        self.recorder.level.connect(v.level_meter.set_level)
        self.recorder.stopped.connect(self._on_recording_stopped)
        self.recorder.failed.connect(self._on_recording_failed)
        self.player.position.connect(self._on_play_position)
        self.player.playing_changed.connect(self._on_playing_changed)
        self.clip_runner.finished.connect(self._on_clip_finished)
        self.predict_runner.finished.connect(self._on_predict_finished)
        self.transcribe_runner.event.connect(self._on_transcribe_event)
        self.transcribe_runner.finished.connect(self._on_transcribe_finished)
        self.transcribe_runner.busy_changed.connect(self._on_transcribe_busy)

    # task -----------------------------------------------------------------------------------
    def set_task(self, task: str) -> None:
        self.task = task
        v = self.view
        keywords = task == "keywords"
        v.result_stack.setCurrentIndex(0 if keywords else 1)
        v.posteriorgram.setVisible(not keywords)
        for widget in (v.label_combo, v.add_button, v.add_target):
            widget.setVisible(keywords)
        v.spectrogram.clear_overlay()
        v.spectrogram.set_markers([])
        if keywords:
            self._show_prediction(self.last_prediction)
        else:
            self._show_transcript(self.last_transcript)
        self.update_add_target()

    def update_add_target(self) -> None:
        try:
            root, _, _, description = self.dataset_target()
        except PlaygroundError as exc:
            self.view.add_target.setText(str(exc))
            return
        self.view.add_target.setText(f"into {description}")
        self.view.add_target.setToolTip(str(root))

    def set_labels(self, labels: list[str]) -> None:
        combo = self.view.label_combo
        text = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(labels)
        combo.setEditText(text)
        combo.blockSignals(False)

    # devices and recording ------------------------------------------------------------------
    def refresh_devices(self) -> None:
        combo = self.view.device_combo
        previous = combo.currentData()
        combo.clear()
        devices = self.recorder.devices()
        for device in devices:
            combo.addItem(device.name + (" (default)" if device.default else ""), device.id)
        if not devices:
            combo.addItem("No microphone found", None)
        index = combo.findData(previous) if previous is not None else -1
        combo.setCurrentIndex(max(0, index))

    def toggle_recording(self) -> None:
        if self.recorder.is_recording():
            self.recorder.stop()
        else:
            self.start_recording()

    def start_recording(self) -> bool:
        v = self.view
        device_id = v.device_combo.currentData()
        if device_id is None:
            self.refresh_devices()
            device_id = v.device_combo.currentData()
        if device_id is None:
            self._on_recording_failed(NO_MICROPHONE)
            return False
        self.player.stop()
        return self.recorder.start(device_id, float(v.max_seconds_spin.value()))

    def show_recording_ui(self, recording: bool) -> None:
        v = self.view
        v.record_button.setChecked(recording)
        v.record_button.setText("■ Stop recording" if recording else "● Record")
        v.spec_stack.setCurrentIndex(1 if recording else 0)
        for widget in (v.clip_drop, v.device_combo, v.refresh_devices_button, v.max_seconds_spin,
                       v.clip_actions):
            widget.setEnabled(not recording)
        if not recording:
            v.level_meter.reset()

    def _on_recording_started(self, name: str) -> None:
        v = self.view
        self.show_recording_ui(True)
        v.live_spectrogram.reset(self.recorder.sample_rate)
        v.waveform.clear_clip()
        v.spectrogram.clear_overlay()
        v.clip_title.setText(f"Recording from {name}…")
        v.clip_title.setStyleSheet("")
        v.record_time.setText(f"0.0 s / {self.recorder.max_seconds:g} s")
        self._last_wave_update = 0.0

    def _on_chunk(self, samples: np.ndarray) -> None:
        v = self.view
        v.live_spectrogram.push(samples)
        v.record_time.setText(f"{self.recorder.elapsed():.1f} s / {self.recorder.max_seconds:g} s")
        now = time.monotonic()
        if now - self._last_wave_update >= WAVEFORM_REFRESH_S:
            self._last_wave_update = now
            v.waveform.set_clip(self.recorder.samples(), self.recorder.sample_rate)

    def _on_recording_stopped(self, samples: np.ndarray, sample_rate: int, reason: str) -> None:
        self.show_recording_ui(False)
        if self._closing:
            return
        if samples.size == 0:
            self.appctx.warn("Nothing was recorded: the microphone delivered no audio. Check the "
                             "input device and its level.")
            return
        self._recordings += 1
        seconds = len(samples) / float(sample_rate)
        self.view.record_time.setText(f"{seconds:.1f} s")
        self.appctx.info(f"Recorded {seconds:.1f} s ({reason}).")
        self.load_clip((np.asarray(samples, np.float32), int(sample_rate)),
                       f"recording {self._recordings}")

    def _on_recording_failed(self, message: str) -> None:
        self.show_recording_ui(False)
        self.view.record_time.setText("")
        self.appctx.error(message)

    # loading --------------------------------------------------------------------------------
    def load_file(self, path: str) -> None:
        self.load_clip(str(path), os.path.basename(str(path)))

    def load_clip(self, source: Any, name: str) -> None:
        """Decode ``source`` (a path or ``(samples, sample_rate)``) on a worker and show it."""
        if not self.appctx.torch_loaded:
            self.appctx.info("Still loading PyTorch; try again in a moment.")
            return
        if self.clip_runner.is_busy():
            self._pending_clip = (source, name)
            return
        from playground.speech.jobs import load_clip_job

        self.player.stop()
        self._loading = (source, name)
        self.view.clip_title.setText(f"Reading {name}…")
        self.view.clip_title.setStyleSheet(MUTED_STYLE)
        self.clip_runner.start(load_clip_job(source, name), "cpu")

    def _on_clip_finished(self, event: ev.Event) -> None:
        loading, self._loading = self._loading, None
        if self._pending_clip is not None:
            pending, self._pending_clip = self._pending_clip, None
            self.load_clip(*pending)
            return
        v = self.view
        if isinstance(event, ev.Failed):
            v.clip_title.setText(event.message)
            v.clip_title.setStyleSheet(ERROR_STYLE)
            self.appctx.error(event.message, event.details)
            return
        if not isinstance(event, ev.Finished) or event.stopped or not event.result:
            return
        clip = dict(event.result)
        clip["source"] = loading[0] if loading else clip.get("path")
        self.show_clip(clip)
        if self.task == "keywords" and v.run_combo.currentData():
            self.predict()

    def show_clip(self, clip: dict[str, Any]) -> None:
        v = self.view
        self.clip = clip
        self.last_prediction = None
        self.last_transcript = None
        v.waveform.set_clip(clip["samples"], clip["sample_rate"])
        v.spectrogram.set_spectrogram(clip["log_mel"], clip["times"], clip["freqs"])
        v.posteriorgram.clear_alignment()
        v.bars.clear()
        v.predict_note.setText("")
        v.transcript.clear()
        v.transcript_note.setText("")
        v.transcript_note.setStyleSheet(MUTED_STYLE)
        fmt = clip.get("format", "")
        source = (f"{fmt} {clip.get('subtype', '')}, {clip.get('file_rate', '')} Hz, "
                  f"{clip.get('channels', 1)} ch" if fmt != "recording"
                  else f"recorded at {clip.get('file_rate', '')} Hz")
        text = f"<b>{clip['name']}</b> — {clip['duration']:.2f} s ({source.strip()})"
        if clip.get("truncated"):
            text += f"; showing the first {clip['shown_seconds']:.0f} s"
        if clip.get("silent"):
            text += " — silent (below -60 dBFS)"
        v.clip_title.setText(text)
        v.clip_title.setStyleSheet(WARNING_STYLE if clip.get("silent") else "")

    def _model_source(self) -> Any:
        """What the models read: the file itself, or the recording's samples."""
        clip = self.clip or {}
        if clip.get("path"):
            return clip["path"]
        return (clip["samples"], int(clip["sample_rate"]))

    # playback, saving, labelling ------------------------------------------------------------
    def toggle_playback(self) -> None:
        if self.player.is_playing():
            self.player.stop()
            return
        if self.clip is None:
            self.appctx.warn("There is no clip to play yet: drop an audio file or record one.")
            return
        try:
            self.player.play(self.clip["samples"], self.clip["sample_rate"])
        except AudioDeviceError as exc:
            self.appctx.warn(str(exc))

    def _on_play_position(self, seconds: float) -> None:
        self.view.waveform.set_playhead(seconds if seconds >= 0 else None)

    def _on_playing_changed(self, playing: bool) -> None:
        self.view.play_button.setText("■ Stop" if playing else "▶ Play")

    def save_clip_as(self, path: str | None = None) -> Path | None:
        """Write the clip (16 kHz, 16-bit) as a WAV file; ask where when ``path`` is None."""
        if self.clip is None:
            self.appctx.warn("There is no clip to save yet: record one or drop an audio file.")
            return None
        if path is None:
            stem = Path(self.clip["name"]).stem.replace(" ", "_")
            path, _ = QFileDialog.getSaveFileName(self.view, "Save the clip as WAV",
                                                  str(Path.home() / f"{stem}.wav"),
                                                  "WAV audio (*.wav)")
            if not path:
                return None
        if not path.lower().endswith(".wav"):
            path += ".wav"
        from playground.speech.audio import save_wav

        try:
            written = save_wav(path, self.clip["samples"], int(self.clip["sample_rate"]))
        except OSError as exc:
            self.appctx.error(f"Could not save {path}: {exc.strerror or exc}.")
            return None
        self.appctx.info(f"Saved {written}.")
        return written

    def add_to_dataset(self) -> Path | None:
        """Save the clip under the typed label in the keyword dataset being used."""
        if self.clip is None:
            self.appctx.warn("There is no clip to add yet: record one or drop an audio file.")
            return None
        from playground.speech.jobs import add_to_label

        label = self.view.label_combo.currentText()
        try:
            root, layout, pattern, description = self.dataset_target()
            path = add_to_label(root, label, self.clip["samples"], int(self.clip["sample_rate"]),
                                layout=layout, label_pattern=pattern)
        except PlaygroundError as exc:
            self.appctx.error(str(exc))
            return None
        except OSError as exc:
            self.appctx.error(f"Could not write the clip into {description}: "
                              f"{exc.strerror or exc}.")
            return None
        self.appctx.info(f"Added {path.name} to '{label.strip()}' in {description}.")
        self.on_added(path)
        return path

    # runs -----------------------------------------------------------------------------------
    def refresh_runs(self, select: str | None = None) -> None:
        from playground.ui.tabs.task_common import run_label, task_runs

        try:  # finished, stopped and interrupted runs with a checkpoint
            keyword_runs = task_runs("speech", speech_task="keywords")
            ctc_runs = task_runs("speech", speech_task="ctc")
        except OSError as exc:
            self.appctx.error(f"Could not list runs: {exc}")
            keyword_runs, ctc_runs = [], []
        v = self.view
        fill_combo(v.run_combo, [(run_label(r), r.path) for r in keyword_runs],
                   select=select, empty="No trained keyword runs yet — train one first")
        # the CTC runs, then wav2vec 2.0 (chosen when nothing else is)
        fill_combo(v.transcriber_combo,
                   [*[(run_label(r), r.path) for r in ctc_runs], (WAV2VEC2_TITLE, "wav2vec2")],
                   select=select if select in {r.path for r in ctc_runs} else None)
        if v.transcriber_combo.currentData() is None:
            v.transcriber_combo.setCurrentIndex(v.transcriber_combo.count() - 1)

    def _on_run_selected(self) -> None:
        self.last_prediction = None
        self.view.bars.clear()
        self.view.spectrogram.clear_overlay()

    # recognising ----------------------------------------------------------------------------
    def predict(self) -> None:
        """Recognise the clip with the selected keyword run (probabilities and saliency)."""
        v = self.view
        run_dir = v.run_combo.currentData()
        if not run_dir:
            self.appctx.error("No trained keyword model yet: train a run (or pick a saved run) "
                              "before recognising clips.")
            return
        if self.clip is None:
            self.appctx.warn("Drop or record a clip first, then recognise it.")
            return
        if self.predict_runner.is_busy():
            self._pending_predict = True
            return
        from playground.speech.jobs import keyword_predict_job

        v.predict_title.setText(f"Recognising {self.clip['name']}…")
        job = keyword_predict_job(run_dir, self.clip["name"], self._model_source(),
                                  device=self.appctx.device)
        self.predict_runner.start(job, self.appctx.device)

    def _on_predict_finished(self, event: ev.Event) -> None:
        if self._pending_predict:
            self._pending_predict = False
            self.predict()
            return
        if isinstance(event, ev.Failed):
            self.view.predict_title.setText("Could not recognise the clip.")
            self.appctx.error(event.message, event.details)
        elif isinstance(event, ev.Finished) and event.result and not event.stopped:
            self.last_prediction = event.result
            if self.task == "keywords":
                self._show_prediction(event.result)

    def _show_prediction(self, result: dict[str, Any] | None) -> None:
        v = self.view
        if result is None:
            v.bars.clear()
            v.predict_note.setText("")
            v.spectrogram.clear_overlay()
            return
        v.bars.set_predictions(result["predictions"])
        top = result["predictions"][0]
        v.predict_title.setText(f"Top-{len(result['predictions'])} labels for "
                                f"{result['name']}: <b>{top[0]}</b> ({top[1]:.1%})")
        v.predict_note.setText(result.get("note", ""))
        v.spectrogram.set_overlay(result["saliency"], start=float(result["offset"]),
                                  seconds=float(result["window_seconds"]))
        v.spectrogram.show_overlay(v.saliency_check.isChecked())

    # transcribing ---------------------------------------------------------------------------
    def transcribe(self) -> None:
        """Transcribe the clip with the chosen CTC run or wav2vec 2.0, on a worker."""
        v = self.view
        source = v.transcriber_combo.currentData()
        if not source:
            self.appctx.error("Choose a speech-to-text model first.")
            return
        if self.clip is None:
            self.appctx.warn("Drop or record a clip first, then transcribe it.")
            return
        if self.transcribe_runner.is_busy():
            return
        from playground.speech.jobs import transcribe_clip_job

        beam = v.beam_spin.value() or None
        v.transcript.clear()
        v.transcript_note.setText(f"Transcribing {self.clip['name']}…")
        v.transcript_note.setStyleSheet(MUTED_STYLE)
        job = transcribe_clip_job(source, self.clip["name"], self._model_source(),
                                  beam_width=beam, device=self.appctx.device)
        self.transcribe_runner.start(job, self.appctx.device)

    def _on_transcribe_busy(self, busy: bool) -> None:
        v = self.view
        v.transcribe_button.setEnabled(not busy)
        v.transcribe_stop_button.setEnabled(busy)
        v.transcribe_progress.setVisible(busy)
        if busy:
            v.transcribe_progress.setRange(0, 0)

    def _on_transcribe_event(self, event: ev.Event) -> None:
        bar = self.view.transcribe_progress
        if not isinstance(event, ev.Progress):
            return
        if event.total <= 0:
            bar.setRange(0, 0)
            bar.setFormat(event.message)
            return
        if event.unit == "byte":
            bar.setRange(0, 1000)
            bar.setValue(int(1000 * event.done / event.total))
            bar.setFormat(f"{event.message}: {event.done / 2**20:.0f} of "
                          f"{event.total / 2**20:.0f} MB")
        else:
            bar.setRange(0, event.total)
            bar.setValue(event.done)
            bar.setFormat(f"{event.message} {event.done} of {event.total} {event.unit}s")

    def _on_transcribe_finished(self, event: ev.Event) -> None:
        v = self.view
        if isinstance(event, ev.Failed):
            v.transcript_note.setText(event.message)
            v.transcript_note.setStyleSheet(ERROR_STYLE)
            if event.error_type == "WeightsUnavailable":
                self.appctx.warn(event.message)
            else:
                self.appctx.error(f"Transcription failed: {event.message}", event.details)
            return
        if not isinstance(event, ev.Finished):
            return
        if event.stopped:
            v.transcript_note.setText("Stopped.")
            self.appctx.info("Transcription stopped.")
            return
        self.last_transcript = event.result
        if self.task == "ctc":
            self._show_transcript(event.result)

    def _show_transcript(self, result: dict[str, Any] | None) -> None:
        v = self.view
        if result is None:
            v.posteriorgram.clear_alignment()
            return
        v.transcript.setPlainText(transcript_text(result) or result.get("text", ""))
        notes = [f"{result['model']}: {result['duration']:.1f} s of audio in "
                 f"{result.get('seconds', 0):.1f} s (real-time factor {result['rtf']:.2f}), "
                 f"{result['chunks']} chunk(s)."]
        if result.get("note"):
            notes.append(result["note"])
        align = result.get("alignment")
        if align and result.get("duration", 0) > result.get("aligned_seconds", 0) + 0.01:
            notes.append(f"The alignment view shows the first {result['aligned_seconds']:.0f} s.")
        v.transcript_note.setText(" ".join(notes))
        v.transcript_note.setStyleSheet(MUTED_STYLE)
        if align:
            v.posteriorgram.set_alignment(align["posteriors"], align["labels"],
                                          align["emissions"], align["frame_seconds"])
            fs = float(align["frame_seconds"])
            v.spectrogram.set_markers([((f + 0.5) * fs, s) for f, s in align["emissions"]])

    # lifecycle ------------------------------------------------------------------------------
    def shutdown(self) -> None:
        self._closing = True
        if self.recorder.is_recording():
            self.recorder.stop("the window closed")
        self.player.stop()
        cancel_and_join(self.runners())
