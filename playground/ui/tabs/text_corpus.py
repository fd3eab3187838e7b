"""The Generate mode's corpus and tokenizer: read the corpus (built-in or dropped .txt files)
on a worker, build or train the tokenizer, and preview how a sentence is cut into tokens.

Reading the corpus and building a tokenizer need no torch and start at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QTextCursor

from playground.core import events as ev
from playground.core.errors import TokenizerError
from playground.text.corpus import DEMO_PYDOC
from playground.ui.jobs import JobRunner
from playground.ui.tabs.text_view import ERROR_STYLE, MUTED_STYLE, GenerateView, pieces_html

SOURCES = [("Built-in: Python's help topics (demo:pydoc)", DEMO_PYDOC),
           ("Your .txt files…", "files")]


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' * (n != 1)}"


class CorpusPart(QObject):
    """Corpus and tokenizer of the Generate mode; ``changed`` when either changes (the model
    info depends on the vocabulary). ``training_busy()`` says whether a run is training (the
    tokenizer cannot be rebuilt under it)."""

    changed = Signal()

    def __init__(self, appctx, view: GenerateView, training_busy: Callable[[], bool],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.appctx, self.view, self.training_busy = appctx, view, training_busy
        self.corpus_runner = JobRunner("corpus", self)
        self.tokenizer_runner = JobRunner("tokenizer", self)
        for runner in (self.corpus_runner, self.tokenizer_runner):
            appctx.watch(runner)
        self.corpus_spec: Any = DEMO_PYDOC
        self.files: list[str] = []
        self.corpus = None               # the loaded Corpus of corpus_spec
        self.corpus_info: dict[str, Any] = {}
        self.tokenizer = None            # built for self.corpus and self.tokenizer_built_for
        self.tokenizer_built_for = ""
        self._tokenizer_request: tuple[Any, str] = (None, "")
        self._pending_corpus: Any = None
        self._pending_tokenizer = False
        for title, spec in SOURCES:
            view.source_combo.addItem(title, spec)
        self._connect_signals()
        self._on_tokenizer_changed()
        # read the built-in corpus once the event loop runs (not while the window is built)
        QTimer.singleShot(0, self, self._load_first_corpus)

    def _connect_signals(self) -> None:
        v = self.view
        v.source_combo.currentIndexChanged.connect(self._on_source_changed)
        v.corpus_drop.dropped.connect(self.set_files)
        v.corpus_drop.rejected.connect(self.appctx.warn)
        v.tokenizer_combo.currentIndexChanged.connect(self._on_tokenizer_changed)
        v.vocab_spin.valueChanged.connect(self._on_tokenizer_changed)
        v.build_tokenizer_button.clicked.connect(self.build_tokenizer)
        v.preview_edit.textChanged.connect(self._update_preview)
        self.corpus_runner.finished.connect(self._on_corpus_finished)
        self.tokenizer_runner.event.connect(self._on_tokenizer_event)
        self.tokenizer_runner.finished.connect(self._on_tokenizer_finished)
        self.tokenizer_runner.busy_changed.connect(self._on_tokenizer_busy)

    def vocab_size(self) -> int | None:
        """The vocabulary size training would use (None until the corpus is read)."""
        if self.tokenizer is not None:
            return int(self.tokenizer.vocab_size)
        spec = self.tokenizer_spec()
        if spec == "char":
            return self.corpus_info.get("distinct_chars")
        return int(spec.partition(":")[2])

    # corpus ---------------------------------------------------------------------------------
    def _load_first_corpus(self) -> None:
        if self.corpus is None and not self.corpus_runner.is_busy():
            self.load_corpus(self.corpus_spec)

    def _on_source_changed(self) -> None:
        spec = self.view.source_combo.currentData()
        if spec == "files":
            if self.files:
                self.load_corpus(list(self.files))
                return
            self.view.corpus_drop.choose()  # modal; a choice arrives through set_files
            if not self.files:  # cancelled: show the corpus that is still in use
                combo = self.view.source_combo
                combo.blockSignals(True)
                combo.setCurrentIndex(max(0, combo.findData(self.corpus_spec)))
                combo.blockSignals(False)
            return
        self.load_corpus(spec)

    def set_files(self, paths: list[str]) -> None:
        """Use dropped (or chosen) .txt files / folders as the corpus."""
        self.files = [str(p) for p in paths]
        combo = self.view.source_combo
        index = combo.findData("files")
        names = ", ".join(Path(p).name for p in self.files[:2])
        more = f" +{len(self.files) - 2}" if len(self.files) > 2 else ""
        combo.blockSignals(True)
        combo.setCurrentIndex(index)
        combo.setItemText(index, f"Files: {names}{more}")
        combo.blockSignals(False)
        self.load_corpus(list(self.files))

    def load_corpus(self, spec: Any) -> None:
        """Read ``spec`` on a worker; the statistics appear when it is done."""
        if self.corpus_runner.is_busy():
            self._pending_corpus = spec
            self.corpus_runner.cancel()
            return
        from playground.text.jobs import corpus_job

        self.corpus_spec = spec
        self.corpus = None
        self.corpus_info = {}
        self.tokenizer = None
        v = self.view
        v.corpus_summary.setStyleSheet("")
        shown = spec if isinstance(spec, str) else ", ".join(Path(p).name for p in spec)
        v.corpus_summary.setText(f"Reading {shown}…")
        v.corpus_warnings.hide()
        self.update_tokenizer_status()
        self.corpus_runner.start(corpus_job(spec), "cpu")

    def _on_corpus_finished(self, event: ev.Event) -> None:
        if self._pending_corpus is not None:
            pending, self._pending_corpus = self._pending_corpus, None
            self.load_corpus(pending)
            return
        v = self.view
        if isinstance(event, ev.Failed):
            v.corpus_summary.setText(event.message)
            v.corpus_summary.setStyleSheet(ERROR_STYLE)
            v.excerpt.set_text("")
            self.update_tokenizer_status()
            self.appctx.error(event.message, event.details)
            return
        if not isinstance(event, ev.Finished) or event.stopped or not event.result:
            return
        info = event.result
        self.corpus = info["corpus"]
        self.corpus_info = info
        s = info["stats"]
        files = f" in {plural(s['files'], 'file')}" if s["files"] > 1 else ""
        v.corpus_summary.setText(
            f"<b>{info['title']}</b>: {s['characters']:,} characters · {s['lines']:,} lines · "
            f"{s['words']:,} words{files}.<br>Split 90 % / 10 %: {info['train_chars']:,} "
            f"training and {info['val_chars']:,} validation characters; "
            f"{info['distinct_chars']:,} distinct characters.")
        warnings = info["warnings"]
        v.corpus_warnings.setVisible(bool(warnings))
        if warnings:
            v.corpus_warnings.setText("\n".join(f"⚠ {w}" for w in warnings))
            self.appctx.warn(f"The corpus was read with {plural(len(warnings), 'warning')}: "
                             f"{warnings[0]}", "\n".join(warnings))
        v.excerpt.set_text(info["excerpt"])
        v.excerpt.moveCursor(QTextCursor.MoveOperation.Start)
        if self.tokenizer_spec() == "char":
            self.build_tokenizer()
        else:
            self.update_tokenizer_status()
        self.changed.emit()

    # tokenizer ------------------------------------------------------------------------------
    def tokenizer_spec(self) -> str:
        kind = self.view.tokenizer_combo.currentData()
        return "char" if kind == "char" else f"{kind}:{self.view.vocab_spin.value()}"

    def _on_tokenizer_changed(self) -> None:
        spec = self.tokenizer_spec()
        self.view.vocab_spin.setEnabled(spec != "char")
        self.view.build_tokenizer_button.setText("Build tokenizer" if spec == "char"
                                                 else "Train tokenizer")
        if self.tokenizer is not None and self.tokenizer_built_for != spec:
            self.tokenizer = None
        if self.tokenizer is None and spec == "char" and self.corpus is not None:
            self.build_tokenizer()
        self.update_tokenizer_status()
        self.changed.emit()

    def build_tokenizer(self) -> None:
        """Build (char) or train (SentencePiece) the chosen tokenizer on a worker."""
        if self.corpus is None:
            if self.corpus_runner.is_busy():
                self.appctx.info("Still reading the corpus; the tokenizer is built after it.")
            else:
                self.appctx.error("There is no corpus to build a tokenizer from: drop .txt "
                                  "files or pick the built-in corpus.")
            return
        if self.tokenizer_runner.is_busy():
            self._pending_tokenizer = True
            self.tokenizer_runner.cancel()
            return
        from playground.text.tokenizers import make_tokenizer_job

        spec = self.tokenizer_spec()
        self._tokenizer_request = (self.corpus, spec)
        self.view.tokenizer_status.setStyleSheet(MUTED_STYLE)
        self.view.tokenizer_status.setText(f"Building the {spec} tokenizer…")
        self.tokenizer_runner.start(make_tokenizer_job(self.corpus, spec), "cpu")

    def _on_tokenizer_busy(self, busy: bool) -> None:
        v = self.view
        v.tokenizer_progress.setVisible(busy)
        v.build_tokenizer_button.setEnabled(not busy and not self.training_busy())
        if busy:
            v.tokenizer_progress.setRange(0, 0)

    def _on_tokenizer_event(self, event: ev.Event) -> None:
        bar = self.view.tokenizer_progress
        if isinstance(event, ev.Progress):
            if event.total > 0:
                bar.setRange(0, 1000)
                bar.setValue(int(1000 * event.done / event.total))
                bar.setFormat(f"{event.message} %p%")
            else:
                bar.setRange(0, 0)
                bar.setFormat(event.message)
        elif isinstance(event, ev.Log):
            self.view.log.append_line(event.message, event.level)

    def _on_tokenizer_finished(self, event: ev.Event) -> None:
        if self._pending_tokenizer:
            self._pending_tokenizer = False
            self.build_tokenizer()
            return
        status = self.view.tokenizer_status
        if isinstance(event, ev.Failed):
            status.setStyleSheet(ERROR_STYLE)
            status.setText(event.message)
            self.appctx.error(event.message, event.details)
            return
        if not isinstance(event, ev.Finished) or event.stopped or not event.result:
            self.update_tokenizer_status()
            return
        corpus, spec = self._tokenizer_request
        if corpus is not self.corpus or spec != self.tokenizer_spec():
            return  # the corpus or the choice changed meanwhile
        r = event.result
        self.tokenizer = r["tokenizer"]
        self.tokenizer_built_for = spec
        self.update_tokenizer_status(r)
        self.changed.emit()

    def update_tokenizer_status(self, built: dict[str, Any] | None = None) -> None:
        status = self.view.tokenizer_status
        status.setStyleSheet(MUTED_STYLE)
        tok = self.tokenizer
        if tok is not None and built is not None:
            status.setText(f"<b>{tok.spec}</b>: {plural(tok.vocab_size, 'token')} in the "
                           f"vocabulary; the corpus is {built['tokens']:,} tokens "
                           f"({built['chars_per_token']:.2f} characters per token).")
        elif tok is None:
            spec = self.tokenizer_spec()
            if spec == "char":
                status.setText("The character vocabulary is built when the corpus is read.")
            else:
                status.setText(f"{spec} is not trained yet: click “Train tokenizer” to "
                               "preview it (Train also trains it).")
        self._update_preview()

    def _update_preview(self) -> None:
        v = self.view
        text = v.preview_edit.text()
        tok = self.tokenizer
        if tok is None or not text:
            v.preview_pieces.setText("")
            v.preview_info.setText("" if tok is None else
                                   "Type a sentence to see how it is cut into tokens.")
            return
        unknown = set(tok.unknown_chars(text))
        try:
            pieces = tok.pieces(text)
        except TokenizerError:
            pieces = list(text)
        flags = [any(c in unknown for c in piece) for piece in pieces]
        v.preview_pieces.setText(pieces_html(pieces, flags))
        info = (f"{plural(len(pieces), 'token')} for {plural(len(text), 'character')}; "
                "▁ is a space, ↵ a new line.")
        if unknown:
            shown = ", ".join(repr(c) for c in sorted(unknown)[:8])
            info += f" Not in the vocabulary (red): {shown}."
        v.preview_info.setText(info)
