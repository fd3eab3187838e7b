"""The Text tab's Translate mode: sentence pairs → an encoder–decoder Transformer (or a
GRU/LSTM with attention) trained live → translation as you type → attention maps.

Thin like the Generate mode: options come from the :class:`TranslateConfig` schema form
(shared with ``playground train translate``), every long piece of work is a Qt-free job from
``playground.text`` on a :class:`JobRunner`, and the events that come back are rendered. Three
parts a reader can hold one at a time: :mod:`~playground.ui.tabs.translate_data` (pairs and
their preview), :mod:`~playground.ui.tabs.translate_training` (Train / Resume / Start from
run, scores and validation samples) and :mod:`~playground.ui.tabs.translate_panel` (run
picker, translation, n-best, attention); the widgets are in
:mod:`~playground.ui.tabs.translate_view`. This module wires them together.

Importing it imports torch (the form's model options come from the model package), so the
Text tab builds this mode once torch has loaded.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from playground.text.translate_train import TranslateConfig
from playground.ui.appctx import AppContext
from playground.ui.jobs import JobRunner
from playground.ui.tabs.text_tab import TextMode
from playground.ui.tabs.translate_data import PairsPart
from playground.ui.tabs.translate_panel import TranslatePanelPart
from playground.ui.tabs.translate_training import TranslateTrainingPart
from playground.ui.tabs.translate_view import TRANSLATE_PAGE, TranslateView


class TranslateMode(TextMode):
    """The Translate mode: its view and the three parts that control it."""

    def __init__(self, appctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(appctx, TranslateView(TranslateConfig), parent)
        self.data = PairsPart(appctx, self.view, self)
        self.trainer = TranslateTrainingPart(appctx, self.view, self.data, self)
        self.panel = TranslatePanelPart(appctx, self.view, self)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.trainer.run_ready.connect(self._on_run_ready)
        self._follow_run_combo(self.view.panel.run_combo)

    def _on_run_ready(self, run_dir: str, ended: bool) -> None:
        """Offer a run for translation once its training has ended."""
        self.panel.refresh_runs(select=run_dir)

    # what tests, the screenshot tool and the window use ------------------------------------
    @property
    def translate_runner(self) -> JobRunner:
        return self.panel.translate_runner

    @property
    def preview_runner(self) -> JobRunner:
        return self.data.preview_runner

    def translate(self, text: str) -> None:
        """Put ``text`` in the input box, open the Translate page and translate it now."""
        self.view.pages.setCurrentIndex(TRANSLATE_PAGE)
        self.view.panel.input_edit.setPlainText(text)
        self.panel.translate_now()

    def refresh_runs(self, select: str | None = None) -> None:
        self.panel.refresh_runs(select)
        self.trainer.training.refresh_runs(select)

    # lifecycle ------------------------------------------------------------------------------
    def runners(self) -> list[JobRunner]:
        return [*super().runners(), self.translate_runner, self.preview_runner]

    def shutdown(self) -> None:
        self.panel.stop()
        self.data.stop()
        super().shutdown()
