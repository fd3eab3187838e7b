"""The Translate mode's sentence pairs: the built-in demo or a dropped (or chosen) tab-separated
file, read on a worker with the form's cleaning options, and previewed before training: pair
counts and the split, sentence-length histograms, a few random pairs.

A file that cannot be used (not UTF-8, most lines without a tab, too few pairs) fails its
preview job with the reader's :class:`~playground.core.errors.DatasetError`; the sentence
goes to the status bar and the summary, and the mode stays usable. Reading pairs needs no
torch and starts at once.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from playground.core import events as ev
from playground.core.errors import PlaygroundError
from playground.text.numbers_fr import DEMO_SPEC
from playground.ui.jobs import JobRunner
from playground.ui.tabs.settings_column import ERROR_STYLE
from playground.ui.tabs.task_common import LatestRequest
from playground.ui.tabs.translate_panel_view import fill_table
from playground.ui.tabs.translate_view import TranslateView

SOURCES = [("Built-in: English → French numbers (demo:numbers-en-fr)", DEMO_SPEC),
           ("Your pairs file (.tsv)…", "file")]
# the form's options that change which pairs are read, or how they are split
DATA_FIELDS = ("swap", "max_length", "lowercase", "normalize", "dedupe", "val_fraction",
               "test_fraction", "seed")
EXAMPLES = 8


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' * (n != 1)}"


def pairs_title(spec: str) -> str:
    return spec if spec.startswith("demo:") else Path(spec).name


class PairsPart(QObject):
    """Which pairs Train uses (``spec``: the demo name or a file path) and their preview;
    ``changed`` when the choice changes."""

    changed = Signal()

    def __init__(self, appctx, view: TranslateView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.appctx, self.view = appctx, view
        self.preview_runner = JobRunner("pairs", self)
        appctx.watch(self.preview_runner)
        self.spec: str = DEMO_SPEC
        self.file: str | None = None
        self.preview: dict[str, Any] | None = None  # the last good preview of ``spec``
        self.error = ""
        self._requested: str | None = None
        self._latest = LatestRequest(self.preview_runner, self._request_preview,
                                     self._show_preview, self)
        for title, spec in SOURCES:
            view.source_combo.addItem(title, spec)
        self._connect_signals()
        # read the demo once the event loop runs (not while the window is built)
        QTimer.singleShot(0, self, self.update_preview)

    def _connect_signals(self) -> None:
        v = self.view
        v.source_combo.currentIndexChanged.connect(self._on_source_changed)
        v.pairs_drop.dropped.connect(self.set_files)
        v.pairs_drop.rejected.connect(self.appctx.warn)
        v.form.changed.connect(self._on_form_changed)

    # choosing -------------------------------------------------------------------------------
    def _on_source_changed(self) -> None:
        choice = self.view.source_combo.currentData()
        if choice != "file":
            self._use(str(choice))
            return
        if self.file:
            self._use(self.file)
            return
        self.view.pairs_drop.choose()  # modal; a choice arrives through set_files
        if not self.file:  # cancelled: show the pairs that are still in use
            self._select_source(self.spec if self.spec == DEMO_SPEC else "file")

    def _select_source(self, data: str) -> None:
        combo = self.view.source_combo
        combo.blockSignals(True)
        combo.setCurrentIndex(max(0, combo.findData(data)))
        combo.blockSignals(False)

    def set_files(self, paths: list[str]) -> None:
        """Use a dropped (or chosen) pairs file."""
        if not paths:
            return
        self.file = str(paths[0])
        combo = self.view.source_combo
        index = combo.findData("file")
        combo.setItemText(index, f"File: {Path(self.file).name}")
        self._select_source("file")
        self._use(self.file)

    def use_demo(self) -> None:
        self._select_source(DEMO_SPEC)
        self._use(DEMO_SPEC)

    def _use(self, spec: str) -> None:
        if spec != self.spec:
            self.spec = spec
            self.preview = None
            self.changed.emit()
        self.update_preview()

    def _on_form_changed(self, name: str) -> None:
        if name in DATA_FIELDS or name == "":
            self.update_preview()

    # preview --------------------------------------------------------------------------------
    def update_preview(self) -> None:
        """Read the pairs again on a worker (after the one being read, if any)."""
        self._latest.update()

    def _request_preview(self) -> None:
        v = self.view
        try:
            cfg = v.form.value()
        except PlaygroundError as exc:
            self._show_error(str(exc), notify=False)
            return
        from playground.text.translate_train import make_preview_job

        self._requested = self.spec
        v.pairs_summary.setStyleSheet("")
        v.pairs_summary.setText(f"Reading {html.escape(pairs_title(self.spec))}…")
        self.preview_runner.start(make_preview_job(self.spec, cfg, EXAMPLES), "cpu")

    def _show_preview(self, event: ev.Event) -> None:
        if self._requested != self.spec or self._latest.pending:
            return  # the choice changed meanwhile; its own preview follows
        if isinstance(event, ev.Failed):
            self._show_error(event.message)
            return
        if not isinstance(event, ev.Finished) or event.stopped or not event.result:
            return
        self.preview, self.error = event.result, ""
        stats, split, warnings = (event.result["stats"], event.result["split"],
                                  event.result["warnings"])
        v = self.view
        name = html.escape(pairs_title(self.spec))
        v.pairs_summary.setText(f"<b>{name}</b>: {html.escape(stats.summary())}.<br>Split: "
                                f"{split['train']:,} training, {split['val']:,} validation, "
                                f"{split['test']:,} test pairs (held out).")
        v.pairs_warnings.setVisible(bool(warnings))
        v.pairs_warnings.setText("\n".join(f"⚠ {w}" for w in warnings))
        if warnings:
            self.appctx.warn(f"The pairs were read with {plural(len(warnings), 'warning')}: "
                             f"{warnings[0]}", "\n".join(warnings))
        v.data_title.setStyleSheet("")
        v.data_title.setText(
            f"<b>{name}</b>: {plural(stats.pairs, 'pair')} · {split['train']:,} training / "
            f"{split['val']:,} validation / {split['test']:,} test · on average "
            f"{stats.mean_source_words:.1f} source and {stats.mean_target_words:.1f} target "
            "words a sentence")
        v.histogram.set_histograms(stats.source_words, stats.target_words)
        fill_table(v.examples_table, [tuple(p) for p in stats.examples])

    def _show_error(self, message: str, notify: bool = True) -> None:
        self.preview, self.error = None, message
        v = self.view
        for widget in (v.pairs_summary, v.data_title):
            widget.setStyleSheet(ERROR_STYLE)
            widget.setText(html.escape(message))
        v.pairs_warnings.hide()
        fill_table(v.examples_table, [])
        if notify:
            self.appctx.error(message)

    def stop(self) -> None:
        """Forget a waiting preview and cancel the running one (closing the mode)."""
        self._latest.pending = False
        self.preview_runner.cancel()
