"""Text tab: train a language model live, generate with it, and look at its attention.

The tab has one page per mode (a tab bar at the top): **Generate** (:class:`GenerateMode`:
corpus → tokenizer → GPT or LSTM trained live → streamed generation → attention maps) and
**Translate** (:class:`~playground.ui.tabs.translate_mode.TranslateMode`: sentence pairs →
encoder–decoder trained live with BLEU / chrF → translation as you type → n-best list and
cross-attention maps). The Translate mode imports torch (its form lists the model package's
options), so it is built once torch has loaded, or when it is first needed; until then its
page says it is loading.

Thin by design: options come from the schema forms (:class:`TextTrainConfig`,
:class:`GenerateConfig`, shared with ``playground generate``), every long piece of work is a
Qt-free job from ``playground.text`` handed to a :class:`JobRunner`, and the events that come
back are rendered. The Generate mode is three parts a reader can hold one at a time:
:mod:`~playground.ui.tabs.text_corpus` (corpus and tokenizer),
:mod:`~playground.ui.tabs.text_training` (model options, Train / Resume / Start from run) and
:mod:`~playground.ui.tabs.text_generate` (run picker, generation, attention); this module
wires them together.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from playground.text.generate_config import GenerateConfig
from playground.text.train import TextTrainConfig
from playground.ui.appctx import AppContext
from playground.ui.jobs import JobRunner, cancel_and_join
from playground.ui.tabs.text_corpus import CorpusPart
from playground.ui.tabs.text_generate import GenerationPart
from playground.ui.tabs.text_training import TextTrainingPart
from playground.ui.tabs.text_view import GenerateView

log = logging.getLogger(__name__)
TRANSLATE_TITLE = "Translate — sequence to sequence"


def run_task(run_dir: str) -> str | None:
    """The task run.json names (None when it cannot be read: the mode's own checks say why)."""
    try:
        info = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info.get("task") if isinstance(info, dict) else None


class TextMode(QWidget):
    """What the Text tab's modes share. A mode shows its ``view``, builds a ``data`` part
    (which takes dropped files) and a ``trainer`` part (its ``train_runner`` and
    ``training``, the shared :class:`~playground.ui.tabs.task_common.TrainingController`),
    and lists its runners in :meth:`runners`; this gives what tests, the screenshot tool, the
    window and the Runs tab call."""

    def __init__(self, appctx: AppContext, view: QWidget, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.appctx, self.view = appctx, view
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(view)

    def _follow_run_combo(self, combo) -> None:
        """Choosing the run to use in ``combo`` also chooses it in "Continue or build on a
        run"."""
        combo.activated.connect(lambda: self.trainer.training.select_run(combo.currentData()))

    @property
    def train_runner(self) -> JobRunner:
        return self.trainer.train_runner

    @property
    def training(self):
        return self.trainer.training

    @property
    def current_run(self) -> str | None:
        """The run being trained, or the one trained last."""
        return self.trainer.training.current_run

    def set_files(self, paths: list[str]) -> None:
        self.data.set_files(paths)

    def start_training(self) -> None:
        self.trainer.start_training()

    def stop_training(self) -> None:
        self.trainer.training.stop()

    def resume_run(self, run_dir: str, total: int | None = None) -> None:
        """Resume ``run_dir`` from its last checkpoint, to ``total`` (iterations or epochs;
        default: the box's total, which choosing the run sets to its saved one)."""
        training = self.trainer.training
        if total and training.select_run(str(run_dir)):
            training.box.total_spin.setValue(int(total))
            training.resume()
        else:
            training.resume(str(run_dir))

    def start_from_run(self, run_dir: str, checkpoint: str = "best") -> None:
        """Make Train start a new run from ``run_dir``'s ``checkpoint`` (and the tokenizers it
        was trained with)."""
        self.trainer.training.start_from_run(str(run_dir), checkpoint)

    def runners(self) -> list[JobRunner]:
        """The job runners of this mode, cancelled and joined at shutdown: training here;
        each mode adds its own."""
        return [self.train_runner]

    def shutdown(self) -> None:
        cancel_and_join(self.runners())


class GenerateMode(TextMode):
    """The Generate mode: its view and the three parts that control it."""

    def __init__(self, appctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(appctx, GenerateView(TextTrainConfig, GenerateConfig), parent)
        self.data = CorpusPart(appctx, self.view, lambda: self.train_runner.is_busy(), self)
        self.trainer = TextTrainingPart(appctx, self.view, self.data, self)
        self.generation = GenerationPart(appctx, self.view, self)
        self._connect_signals()
        appctx.torch_ready.connect(self.trainer.update_model_info)
        if appctx.torch_loaded:
            self.trainer.update_model_info()

    def _connect_signals(self) -> None:
        self.trainer.run_ready.connect(self._on_run_ready)
        self._follow_run_combo(self.view.run_combo)

    def _on_run_ready(self, run_dir: str, ended: bool) -> None:
        """Offer a training run for generation once it has a checkpoint, and when it ends."""
        if ended or self.view.run_combo.currentData() is None:
            self.generation.refresh_runs(select=run_dir)

    # what tests, the screenshot tool and the window use ------------------------------------
    @property
    def corpus(self):
        return self.data.corpus

    @property
    def tokenizer(self):
        return self.data.tokenizer

    @property
    def corpus_runner(self) -> JobRunner:
        return self.data.corpus_runner

    @property
    def tokenizer_runner(self) -> JobRunner:
        return self.data.tokenizer_runner

    @property
    def generate_runner(self) -> JobRunner:
        return self.generation.generate_runner

    def generate(self) -> None:
        self.generation.generate()

    def refresh_runs(self, select: str | None = None) -> None:
        self.generation.refresh_runs(select)
        self.trainer.training.refresh_runs(select)

    # lifecycle ------------------------------------------------------------------------------
    def runners(self) -> list[JobRunner]:
        return [*super().runners(), self.generate_runner, self.generation.attention_runner,
                self.tokenizer_runner, self.corpus_runner, self.trainer.info_runner]


class TextTab(QWidget):
    """The Text tab: a page per mode, Generate and Translate."""

    def __init__(self, appctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.appctx = appctx
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.modes = QTabWidget()
        self.modes.setDocumentMode(True)
        self.generate = GenerateMode(appctx)
        self.modes.addTab(self.generate, "Generate — language model")
        self.modes.setTabToolTip(0, "Train a GPT or LSTM on a corpus, generate text, look at "
                                    "attention.")
        self._translate = None
        self.translate_page = QWidget()  # holds the Translate mode once it is built
        page_layout = QVBoxLayout(self.translate_page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        self._translate_note = QLabel("The Translate mode opens as soon as PyTorch has loaded "
                                      "(a few seconds)…")
        self._translate_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._translate_note.setWordWrap(True)
        page_layout.addWidget(self._translate_note)
        self.modes.addTab(self.translate_page, TRANSLATE_TITLE)
        self.modes.setTabToolTip(1, "Train an encoder–decoder Transformer (or a GRU/LSTM with "
                                    "attention) on sentence pairs, translate as you type, look "
                                    "at cross-attention.")
        layout.addWidget(self.modes)
        self.modes.currentChanged.connect(self._on_mode_changed)
        appctx.torch_ready.connect(self._on_torch_ready)
        if appctx.torch_loaded:
            self.ensure_translate()

    # the Translate mode, built when torch is there ------------------------------------------
    @property
    def translate(self):
        """The Translate mode (built now if it was not yet; None if it cannot be built)."""
        return self.ensure_translate()

    def ensure_translate(self):
        if self._translate is not None:
            return self._translate
        try:
            from playground.ui.tabs.translate_mode import TranslateMode

            mode = TranslateMode(self.appctx)
        except Exception as exc:  # noqa: BLE001 - the page says it; the Generate mode works on
            log.exception("the Translate mode could not be built")
            self._translate_note.setText(f"The Translate mode could not be loaded: {exc}")
            return None
        self._translate = mode
        self._translate_note.hide()
        self.translate_page.layout().addWidget(mode)
        return mode

    def _on_torch_ready(self) -> None:
        if self.appctx.torch_loaded:  # False when importing torch failed
            self.ensure_translate()

    def _on_mode_changed(self, index: int) -> None:
        if self.modes.widget(index) is self.translate_page and self.appctx.torch_loaded:
            self.ensure_translate()

    def _mode_for(self, run_dir: str):
        """The mode that trains ``run_dir`` (its run.json task), shown."""
        if run_task(run_dir) == "translate":
            mode = self.ensure_translate()
            if mode is not None:
                self.modes.setCurrentWidget(self.translate_page)
                return mode
        self.modes.setCurrentWidget(self.generate)
        return self.generate

    # what the Runs tab calls ----------------------------------------------------------------
    def resume_run(self, run_dir: str, total: int | None = None) -> None:
        """Resume the text or translate run ``run_dir`` in its mode, to ``total`` (iterations
        of a text run, epochs of a translate run; default: the run's own)."""
        self._mode_for(str(run_dir)).resume_run(run_dir, total)

    def start_from_run(self, run_dir: str, checkpoint: str = "best") -> None:
        """Make the next Train of the run's mode start from ``run_dir``."""
        self._mode_for(str(run_dir)).start_from_run(run_dir, checkpoint)

    def shutdown(self) -> None:
        """Cancel and join every job of every mode (the window calls this on close)."""
        self.generate.shutdown()
        if self._translate is not None:
            self._translate.shutdown()
