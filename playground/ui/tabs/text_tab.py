"""Text tab: train a language model live, generate with it, and look at its attention.

The tab has one page per mode (a tab bar at the top): **Generate** (this module's
:class:`GenerateMode`: corpus → tokenizer → GPT or LSTM trained live → streamed generation →
attention maps); Translate slots in beside it as a second page.

Thin by design: options come from the schema forms (:class:`TextTrainConfig`,
:class:`GenerateConfig`, shared with ``playground generate``), every long piece of work is a
Qt-free job from ``playground.text`` handed to a :class:`JobRunner`, and the events that come
back are rendered. Modules that import
torch are imported inside methods, after ``torch_ready``; reading the corpus and building a
tokenizer need no torch and start at once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QFont, QTextCursor
from PySide6.QtWidgets import QTabWidget, QTextEdit, QVBoxLayout, QWidget

from playground.core import events as ev
from playground.core import schema
from playground.core.errors import ConfigError, PlaygroundError, TokenizerError
from playground.text.corpus import DEMO_PYDOC
from playground.text.generate_config import GenerateConfig
from playground.text.models import TEXT_MODELS
from playground.text.train import TextTrainConfig, check_config
from playground.ui.appctx import AppContext
from playground.ui.jobs import JobRunner
from playground.ui.registry_watch import RegistryWatcher, apply_model_uses
from playground.ui.tabs.settings_column import request_stop, show_common_event, show_training
from playground.ui.tabs.text_view import ERROR_STYLE, MUTED_STYLE, GenerateView, pieces_html
from playground.ui.widgets.combo import fill_combo

log = logging.getLogger(__name__)

SOURCES = [("Built-in: Python's help topics (demo:pydoc)", DEMO_PYDOC),
           ("Your .txt files…", "files")]
ATTENTION_TOKENS = 128
LSTM_NOTE = ("This run is an LSTM: it reads one token at a time and carries a hidden state, so "
             "there are no attention weights to show. Train a GPT to see attention maps.")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' * (n != 1)}"


class GenerateMode(QWidget):
    """The Generate mode: controller of :class:`GenerateView`."""

    def __init__(self, appctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.appctx = appctx
        self.view = GenerateView(TextTrainConfig, GenerateConfig)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.corpus_runner = JobRunner("corpus", self)
        self.tokenizer_runner = JobRunner("tokenizer", self)
        self.info_runner = JobRunner("model", self)
        self.train_runner = JobRunner("training", self)
        self.generate_runner = JobRunner("generate", self)
        self.attention_runner = JobRunner("attention", self)
        for runner in (self.corpus_runner, self.tokenizer_runner, self.train_runner,
                       self.generate_runner, self.attention_runner):
            appctx.watch(runner)
        self.corpus_spec: Any = DEMO_PYDOC
        self.files: list[str] = []
        self.corpus = None               # the loaded Corpus of corpus_spec
        self.corpus_info: dict[str, Any] = {}
        self.tokenizer = None            # built for self.corpus and self.tokenizer_built_for
        self.tokenizer_built_for = ""
        self._tokenizer_request: tuple[Any, str] = (None, "")
        self.current_run: str | None = None
        self._pending_corpus: Any = None
        self._pending_tokenizer = False
        self._pending_info = False
        self._pending_attention: str | None = None
        self._prompt_tokenizer = None    # the selected run's tokenizer (unknown characters)
        self._run_model = ""
        self._shown_run: str | None = None  # the run the attention page belongs to
        self._generated_tokens = 0
        self._prompt_chars = 0
        v = self.view
        for title, spec in SOURCES:
            v.source_combo.addItem(title, spec)
        self.models = RegistryWatcher(TEXT_MODELS, self)  # the model menu follows the registry
        self._connect_signals()
        self._apply_model_fields()
        self._on_tokenizer_changed()
        self.refresh_runs()
        appctx.torch_ready.connect(self._on_torch_ready)
        if appctx.torch_loaded:
            self._on_torch_ready()
        # read the built-in corpus once the event loop runs (not while the window is built)
        QTimer.singleShot(0, self, self._load_first_corpus)

    # wiring ---------------------------------------------------------------------------------
    def _connect_signals(self) -> None:
        v = self.view
        v.source_combo.currentIndexChanged.connect(self._on_source_changed)
        v.corpus_drop.dropped.connect(self.set_files)
        v.corpus_drop.rejected.connect(self.appctx.warn)
        v.tokenizer_combo.currentIndexChanged.connect(self._on_tokenizer_changed)
        v.vocab_spin.valueChanged.connect(self._on_tokenizer_changed)
        v.build_tokenizer_button.clicked.connect(self.build_tokenizer)
        v.preview_edit.textChanged.connect(self._update_preview)
        v.form.changed.connect(self._on_form_changed)
        self.models.changed.connect(self._on_models_changed)
        v.train_button.clicked.connect(self.start_training)
        v.stop_button.clicked.connect(self.stop_training)
        v.refresh_runs_button.clicked.connect(lambda: self.refresh_runs())
        v.run_combo.currentIndexChanged.connect(self._on_run_selected)
        v.prompt_edit.textChanged.connect(self._check_prompt)
        v.generate_button.clicked.connect(self.generate)
        v.gen_stop_button.clicked.connect(self.stop_generation)
        v.attention_button.clicked.connect(self.attention_for_output)
        self.corpus_runner.finished.connect(self._on_corpus_finished)
        self.tokenizer_runner.event.connect(self._on_tokenizer_event)
        self.tokenizer_runner.finished.connect(self._on_tokenizer_finished)
        self.tokenizer_runner.busy_changed.connect(self._on_tokenizer_busy)
        self.info_runner.finished.connect(self._on_info_finished)
        self.train_runner.event.connect(self._on_train_event)
        self.train_runner.finished.connect(self._on_train_finished)
        self.train_runner.busy_changed.connect(self._on_train_busy)
        self.generate_runner.event.connect(self._on_generate_event)
        self.generate_runner.finished.connect(self._on_generate_finished)
        self.generate_runner.busy_changed.connect(self._on_generate_busy)
        self.attention_runner.event.connect(self._on_attention_event)
        self.attention_runner.finished.connect(self._on_attention_finished)

    def _on_torch_ready(self) -> None:
        self.update_model_info()

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
        self._update_tokenizer_status()
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
            self._update_tokenizer_status()
            self.appctx.error(event.message, event.details)
            return
        if not isinstance(event, ev.Finished) or event.stopped or not event.result:
            return
        info = event.result
        self.corpus = info["corpus"]
        self.corpus_info = info
        s = info["stats"]
        files = f" in {_plural(s['files'], 'file')}" if s["files"] > 1 else ""
        v.corpus_summary.setText(
            f"<b>{info['title']}</b>: {s['characters']:,} characters · {s['lines']:,} lines · "
            f"{s['words']:,} words{files}.<br>Split 90 % / 10 %: {info['train_chars']:,} "
            f"training and {info['val_chars']:,} validation characters; "
            f"{info['distinct_chars']:,} distinct characters.")
        warnings = info["warnings"]
        v.corpus_warnings.setVisible(bool(warnings))
        if warnings:
            v.corpus_warnings.setText("\n".join(f"⚠ {w}" for w in warnings))
            self.appctx.warn(f"The corpus was read with {_plural(len(warnings), 'warning')}: "
                             f"{warnings[0]}", "\n".join(warnings))
        v.excerpt.set_text(info["excerpt"])
        v.excerpt.moveCursor(QTextCursor.MoveOperation.Start)
        if self.tokenizer_spec() == "char":
            self.build_tokenizer()
        else:
            self._update_tokenizer_status()
        self.update_model_info()

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
        self._update_tokenizer_status()
        self.update_model_info()

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
        v.build_tokenizer_button.setEnabled(not busy and not self.train_runner.is_busy())
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
            self._update_tokenizer_status()
            return
        corpus, spec = self._tokenizer_request
        if corpus is not self.corpus or spec != self.tokenizer_spec():
            return  # the corpus or the choice changed meanwhile
        r = event.result
        self.tokenizer = r["tokenizer"]
        self.tokenizer_built_for = spec
        self._update_tokenizer_status(r)
        self.update_model_info()

    def _update_tokenizer_status(self, built: dict[str, Any] | None = None) -> None:
        status = self.view.tokenizer_status
        status.setStyleSheet(MUTED_STYLE)
        tok = self.tokenizer
        if tok is not None and built is not None:
            status.setText(f"<b>{tok.spec}</b>: {_plural(tok.vocab_size, 'token')} in the "
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
        info = (f"{_plural(len(pieces), 'token')} for {_plural(len(text), 'character')}; "
                "▁ is a space, ↵ a new line.")
        if unknown:
            shown = ", ".join(repr(c) for c in sorted(unknown)[:8])
            info += f" Not in the vocabulary (red): {shown}."
        v.preview_info.setText(info)

    # model info -----------------------------------------------------------------------------
    def config(self) -> TextTrainConfig:
        """The form's options with the chosen tokenizer; raises ConfigError."""
        cfg = schema.replace(self.view.form.value(), tokenizer=self.tokenizer_spec())
        return check_config(cfg)

    def _vocab_size(self) -> int | None:
        if self.tokenizer is not None:
            return int(self.tokenizer.vocab_size)
        spec = self.tokenizer_spec()
        if spec == "char":
            return self.corpus_info.get("distinct_chars")
        return int(spec.partition(":")[2])

    def _on_form_changed(self, name: str) -> None:
        if name in ("model", ""):
            self._apply_model_fields()
        self.update_model_info()

    def _on_models_changed(self) -> None:
        """A model was registered or removed (a builder graph): refresh the menu and info."""
        self.view.form.refresh_choices()
        self._apply_model_fields()
        self.update_model_info()

    def _apply_model_fields(self) -> None:
        """Grey out the options the chosen model does not read (its entry's ``uses``)."""
        form = self.view.form
        apply_model_uses(form, TEXT_MODELS, str(form.widget_for("model").currentData()))

    def update_model_info(self) -> None:
        """Parameter count and tokens per step, computed on a worker (meta device)."""
        if not self.appctx.torch_loaded:
            return
        if self.info_runner.is_busy():
            self._pending_info = True
            return
        label = self.view.model_info
        try:
            cfg = self.config()
        except PlaygroundError as exc:
            label.setStyleSheet(ERROR_STYLE)
            label.setText(str(exc))
            return
        vocab = self._vocab_size()
        if not vocab:
            label.setStyleSheet(MUTED_STYLE)
            label.setText("The parameter count appears when the corpus has been read.")
            return
        from playground.text.jobs import model_info_job

        self.info_runner.start(model_info_job(cfg, vocab), "cpu")

    def _on_info_finished(self, event: ev.Event) -> None:
        label = self.view.model_info
        if isinstance(event, ev.Finished) and isinstance(event.result, dict):
            r = event.result
            try:
                cfg = self.config()
                shape = f"batch {cfg.batch_size} × context {cfg.block_size}"
            except PlaygroundError:
                shape = "batch × context"
            label.setStyleSheet(MUTED_STYLE)
            label.setText(f"<b>{r['title']}</b>: <b>{r['parameters']:,}</b> parameters "
                          f"({r['parameters'] / 1e6:.2f} M) · <b>{r['tokens_per_step']:,}</b> "
                          f"tokens per step ({shape}) · vocabulary {r['vocab_size']:,}")
        elif isinstance(event, ev.Failed):
            label.setStyleSheet(ERROR_STYLE)
            label.setText(event.message)
        if self._pending_info:
            self._pending_info = False
            self.update_model_info()

    # training -------------------------------------------------------------------------------
    def start_training(self) -> None:
        if self.train_runner.is_busy():
            return
        if not self.appctx.torch_loaded:
            self.appctx.info("Still loading PyTorch; try again in a moment.")
            return
        if self.corpus_runner.is_busy():
            self.appctx.info("Still reading the corpus; train when its statistics appear.")
            return
        try:
            cfg = self.config()
        except PlaygroundError as exc:
            self.appctx.error(str(exc))
            return
        from playground.text.train import make_train_job

        corpus = self.corpus if self.corpus is not None else self.corpus_spec
        tokenizer = self.tokenizer if self.tokenizer_built_for == cfg.tokenizer else None
        v = self.view
        v.curves.clear()
        v.samples.set_text("")
        v.log.clear()
        v.pages.setCurrentIndex(0)
        self.current_run = None
        self.train_runner.start(make_train_job(cfg, corpus, tokenizer=tokenizer),
                                self.appctx.device)
        self.appctx.info(f"Training a {cfg.model.upper()} ({cfg.tokenizer} tokens) for "
                         f"{cfg.max_iters:,} iterations…")

    def stop_training(self) -> None:
        request_stop(self.train_runner, self.view.stop_button)

    def _on_train_busy(self, busy: bool) -> None:
        v = self.view
        show_training(v.train_button, v.stop_button, busy,
                      (v.form, v.source_combo, v.corpus_drop, v.tokenizer_combo))
        v.vocab_spin.setEnabled(not busy and self.tokenizer_spec() != "char")
        v.build_tokenizer_button.setEnabled(not busy and not self.tokenizer_runner.is_busy())

    def _on_train_event(self, event: ev.Event) -> None:
        v = self.view
        if isinstance(event, ev.Metric) and event.name == "samples_per_s":
            return  # tokens/s says the same for text
        if show_common_event(v, event):
            return
        if isinstance(event, ev.SampleText):
            v.samples.append_sample(event.prompt + event.text, header=f"step {event.step}")
        elif isinstance(event, ev.RunStarted):
            self.current_run = event.run_dir
            v.log.append_line(f"Run folder: {event.run_dir}")
        elif isinstance(event, ev.ModelSummary):
            v.log.append_line(f"{event.model.upper()}: {event.parameters:,} parameters. "
                              f"{event.details}")
        elif isinstance(event, ev.CheckpointSaved) and event.kind == "best":
            loss = f", val loss {event.metric:.4f}" if event.metric is not None else ""
            v.log.append_line(f"best checkpoint saved (step {event.step}{loss})")
            if v.run_combo.currentData() is None:  # offer the run as soon as it can generate
                self.refresh_runs(select=self.current_run)

    def _on_train_finished(self, event: ev.Event) -> None:
        self.appctx.report_terminal(event, "Training")
        if isinstance(event, ev.Finished) and isinstance(event.result, dict):
            r = event.result
            best = r.get("best_val_loss")
            if best is not None:
                self.appctx.info(("Training stopped" if event.stopped else "Training finished")
                                 + f": best validation loss {best:.4f} at step "
                                   f"{r.get('best_step')}.")
            self.view.log.append_line("stopped — what was learned so far was kept"
                                      if event.stopped else "finished")
        self.refresh_runs(select=self.current_run)

    # runs -----------------------------------------------------------------------------------
    def refresh_runs(self, select: str | None = None) -> None:
        """List the saved text runs that have a checkpoint (newest first)."""
        from playground.core.runs import RunStore

        try:
            runs = RunStore().list("text")
        except OSError as exc:
            self.appctx.error(f"Could not list the text runs: {exc}")
            runs = []
        items = []
        for run in runs:
            if not (run.best_checkpoint.is_file() or run.last_checkpoint.is_file()):
                continue
            try:
                info = run.info()
            except Exception:  # noqa: BLE001 - a damaged run is not offered
                log.warning("skipping unreadable run %s", run.path, exc_info=True)
                continue
            result = info.get("result") or {}
            tok = (info.get("tokenizer") or {}).get("spec") or (info.get("config") or {}).get(
                "tokenizer", "")
            loss = result.get("best_val_loss")
            label = f"{run.name} · {str(info.get('model', '')).upper()} · {tok}"
            label += f" · val loss {loss:.3f}" if loss is not None else ""
            label += " · training…" if run.effective_status(info) == "training" else ""
            items.append((label, str(run.path)))
        fill_combo(self.view.run_combo, items, select=select,
                   empty="No trained text runs yet — train one first")
        self._on_run_selected()

    def _on_run_selected(self) -> None:
        run_dir = self.view.run_combo.currentData()
        self._prompt_tokenizer = None
        self._run_model = ""
        info_label = self.view.run_info
        if not run_dir:
            info_label.setText("Train a model on the left (or with `playground train text`), "
                               "then generate with it here.")
            self._check_prompt()
            return
        from playground.core.runs import open_run
        from playground.text.tokenizers import load_tokenizer

        try:
            run = open_run(run_dir, task="text")
            info = run.info()
            self._prompt_tokenizer = load_tokenizer(run_dir)
        except (PlaygroundError, OSError, ValueError) as exc:
            info_label.setText(f"This run cannot be used: {exc}")
            self._check_prompt()
            return
        self._run_model = str(info.get("model", ""))
        result = info.get("result") or {}
        params = info.get("parameters") or result.get("parameters")
        parts = [f"{self._run_model.upper()}"
                 + (f" with {params:,} parameters" if params else ""),
                 f"tokenizer {self._prompt_tokenizer.spec} "
                 f"({self._prompt_tokenizer.vocab_size:,} tokens)"]
        if result.get("steps"):
            parts.append(f"trained {result['steps']:,} steps")
        if result.get("best_val_loss") is not None:
            parts.append(f"best validation loss {result['best_val_loss']:.4f} "
                         f"(step {result.get('best_step')})")
        info_label.setText(" · ".join(parts) + f"\n{run.path}")
        if run_dir != self._shown_run:  # maps of another run would mislead
            self._shown_run = run_dir
            self.view.attention.show_note(
                LSTM_NOTE if self._run_model == "lstm" else
                "Generate text with this run (or click “Attention of this text”) to see "
                "its attention.")
        self._check_prompt()

    # generation -----------------------------------------------------------------------------
    def _check_prompt(self) -> list[str]:
        """Flag prompt characters the selected run's tokenizer never saw; return them."""
        warning = self.view.prompt_warning
        tok = self._prompt_tokenizer
        unknown = tok.unknown_chars(self.view.prompt_edit.toPlainText()) if tok else []
        warning.setVisible(bool(unknown))
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:10]) + (" …" if len(unknown) > 10 else "")
            warning.setText(f"The prompt has {_plural(len(unknown), 'character')} this run's "
                            f"tokenizer never saw in its corpus: {shown}. Remove or replace "
                            "them to generate.")
        return unknown

    def generate(self) -> None:
        """Continue the prompt with the selected run, streaming into the output."""
        run_dir = self.view.run_combo.currentData()
        if not run_dir:
            self.appctx.error("No trained text model yet: train one (Train, on the left) or "
                              "pick a saved text run, then generate.")
            return
        if not self.appctx.torch_loaded:
            self.appctx.info("Still loading PyTorch; try again in a moment.")
            return
        if self.generate_runner.is_busy():
            return
        try:
            opts: GenerateConfig = self.view.options_form.value()
        except ConfigError as exc:
            self.appctx.error(str(exc))
            return
        if self._check_prompt():
            self.appctx.error(self.view.prompt_warning.text())
            return
        from playground.text.jobs import make_run_generate_job

        prompt = self.view.prompt_edit.toPlainText()
        self._show_prompt(prompt)
        self._generated_tokens = 0
        self.view.rate_label.setText("Loading the model…")
        self.view.pages.setCurrentIndex(1)
        job = make_run_generate_job(run_dir, prompt, opts.max_new_tokens, opts.temperature,
                                    opts.top_k, opts.top_p, opts.seed_or_none)
        self.generate_runner.start(job, self.appctx.device)

    def _show_prompt(self, prompt: str) -> None:
        """Put the prompt at the top of the output, bold on grey."""
        self._prompt_chars = len(prompt)
        self.view.output.set_text(prompt)
        self._highlight_prompt()

    def _highlight_prompt(self) -> None:
        """Mark the prompt with an extra selection (streamed text keeps the plain format);
        made again after each chunk, as text inserted at its end would stretch it."""
        out = self.view.output
        if not self._prompt_chars:
            out.setExtraSelections([])
            return
        selection = QTextEdit.ExtraSelection()
        cursor = QTextCursor(out.document())
        cursor.setPosition(0)
        cursor.setPosition(min(self._prompt_chars, out.document().characterCount() - 1),
                           QTextCursor.MoveMode.KeepAnchor)
        selection.cursor = cursor
        selection.format.setFontWeight(QFont.Weight.Bold)
        selection.format.setBackground(QColor("#e5e7eb"))
        out.setExtraSelections([selection])

    def stop_generation(self) -> None:
        if self.generate_runner.is_busy():
            self.generate_runner.cancel()

    def _on_generate_busy(self, busy: bool) -> None:
        v = self.view
        v.generate_button.setEnabled(not busy)
        v.gen_stop_button.setEnabled(busy)
        v.attention_button.setEnabled(not busy)

    def _on_generate_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.TextChunk):
            self.view.output.append_text(event.text)
            self._highlight_prompt()
            self._generated_tokens += event.tokens
            self.view.rate_label.setText(f"{event.tokens_per_s:,.1f} tokens/s · "
                                         f"{_plural(self._generated_tokens, 'token')}")

    def _on_generate_finished(self, event: ev.Event) -> None:
        v = self.view
        if isinstance(event, ev.Failed):
            v.rate_label.setText("")
            self.appctx.error(f"Generation failed: {event.message}", event.details)
            return
        if not isinstance(event, ev.Finished) or not isinstance(event.result, dict):
            return
        r = event.result
        v.rate_label.setText(f"{_plural(r['tokens'], 'token')} in {r['seconds']:.2f} s · "
                             f"{r['tokens_per_s']:,.1f} tokens/s"
                             + (" (stopped)" if event.stopped else ""))
        if r.get("attention"):
            self.compute_attention(v.output.text())
        else:
            v.attention.show_note(LSTM_NOTE)

    # attention ------------------------------------------------------------------------------
    def attention_for_output(self) -> None:
        """Attention maps of the text in the output box (or the prompt), on a worker."""
        text = self.view.output.text() or self.view.prompt_edit.toPlainText()
        if not self.view.run_combo.currentData():
            self.appctx.error("No trained text model yet: train a GPT (or pick a saved run) "
                              "to see its attention.")
            return
        if not text:
            self.appctx.info("Type a prompt or generate some text first: attention is drawn "
                             "over its tokens.")
            return
        self.view.pages.setCurrentIndex(2)
        self.compute_attention(text)

    def compute_attention(self, text: str) -> None:
        run_dir = self.view.run_combo.currentData()
        if not run_dir or not text or not self.appctx.torch_loaded:
            return
        if self.attention_runner.is_busy():
            self._pending_attention = text
            return
        from playground.text.jobs import make_run_attention_job

        self.attention_runner.start(make_run_attention_job(run_dir, text, ATTENTION_TOKENS),
                                    self.appctx.device)

    def _on_attention_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.AttentionMaps):
            tokens = len(event.query_tokens)
            self.view.attention.set_maps(
                event, note=f"The last {_plural(tokens, 'token')} of the prompt and output "
                            f"(at most {ATTENTION_TOKENS}). Rows: the token doing the "
                            "attending (query); columns: the tokens it looks at (keys). Grey "
                            "cells are the future, hidden by the causal mask; ▁ is a space, "
                            "↵ a new line. Hover a cell for its weight; click a thumbnail to "
                            "open that head.")

    def _on_attention_finished(self, event: ev.Event) -> None:
        if self._pending_attention is not None:
            pending, self._pending_attention = self._pending_attention, None
            self.compute_attention(pending)
            return
        if isinstance(event, ev.Failed):
            self.view.attention.show_note(event.message)
            if event.error_type == "RunError" and self._run_model == "lstm":
                self.appctx.info(event.message)
            else:
                self.appctx.error(f"Attention maps failed: {event.message}", event.details)

    # lifecycle ------------------------------------------------------------------------------
    def runners(self) -> list[JobRunner]:
        return [self.train_runner, self.generate_runner, self.attention_runner,
                self.tokenizer_runner, self.corpus_runner, self.info_runner]

    def shutdown(self) -> None:
        for runner in self.runners():
            runner.cancel()
        for runner in self.runners():
            runner.shutdown()


class TextTab(QWidget):
    """The Text tab: a page per mode (Generate now; Translate joins it as a second page)."""

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
        layout.addWidget(self.modes)

    def shutdown(self) -> None:
        """Cancel and join every job of every mode (the window calls this on close)."""
        self.generate.shutdown()
