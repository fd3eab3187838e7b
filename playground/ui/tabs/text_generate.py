"""The Generate mode's generation: pick a saved text run, continue a prompt with it
(streamed, with a warning for characters its tokenizer never saw), and draw the attention
maps of the text on a worker.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QColor, QFont, QTextCursor
from PySide6.QtWidgets import QTextEdit

from playground.core import events as ev
from playground.core.errors import ConfigError, PlaygroundError
from playground.text.generate_config import GenerateConfig
from playground.ui.jobs import JobRunner
from playground.ui.tabs.task_common import RESUMABLE, run_label, task_runs
from playground.ui.tabs.text_corpus import plural
from playground.ui.tabs.text_view import GenerateView
from playground.ui.widgets.combo import fill_combo

log = logging.getLogger(__name__)

ATTENTION_TOKENS = 128
LSTM_NOTE = ("This run is an LSTM: it reads one token at a time and carries a hidden state, so "
             "there are no attention weights to show. Train a GPT to see attention maps.")


def _tokenizer_spec(info: dict[str, Any]) -> str:
    return str((info.get("tokenizer") or {}).get("spec")
               or (info.get("config") or {}).get("tokenizer", ""))


class GenerationPart(QObject):
    """The run picker, generation and attention of the Generate mode."""

    def __init__(self, appctx, view: GenerateView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.appctx, self.view = appctx, view
        self.generate_runner = JobRunner("generate", self)
        self.attention_runner = JobRunner("attention", self)
        for runner in (self.generate_runner, self.attention_runner):
            appctx.watch(runner)
        self._pending_attention: str | None = None
        self._prompt_tokenizer = None    # the selected run's tokenizer (unknown characters)
        self._run_model = ""
        self._shown_run: str | None = None  # the run the attention page belongs to
        self._generated_tokens = 0
        self._prompt_chars = 0
        self._connect_signals()
        self.refresh_runs()

    def _connect_signals(self) -> None:
        v = self.view
        v.refresh_runs_button.clicked.connect(lambda: self.refresh_runs())
        v.run_combo.currentIndexChanged.connect(self._on_run_selected)
        v.prompt_edit.textChanged.connect(self._check_prompt)
        v.generate_button.clicked.connect(self.generate)
        v.gen_stop_button.clicked.connect(self.stop_generation)
        v.attention_button.clicked.connect(self.attention_for_output)
        self.generate_runner.event.connect(self._on_generate_event)
        self.generate_runner.finished.connect(self._on_generate_finished)
        self.generate_runner.busy_changed.connect(self._on_generate_busy)
        self.attention_runner.event.connect(self._on_attention_event)
        self.attention_runner.finished.connect(self._on_attention_finished)

    # runs -----------------------------------------------------------------------------------
    def refresh_runs(self, select: str | None = None) -> None:
        """List the saved text runs that have a checkpoint (newest first), training ones too."""
        try:
            runs = task_runs("text", (*RESUMABLE, "training"))
        except OSError as exc:
            self.appctx.error(f"Could not list the text runs: {exc}")
            runs = []
        items = [(run_label(r, _tokenizer_spec(r.info)), r.path) for r in runs]
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
            warning.setText(f"The prompt has {plural(len(unknown), 'character')} this run's "
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
                                         f"{plural(self._generated_tokens, 'token')}")

    def _on_generate_finished(self, event: ev.Event) -> None:
        v = self.view
        if isinstance(event, ev.Failed):
            v.rate_label.setText("")
            self.appctx.error(f"Generation failed: {event.message}", event.details)
            return
        if not isinstance(event, ev.Finished) or not isinstance(event.result, dict):
            return
        r = event.result
        v.rate_label.setText(f"{plural(r['tokens'], 'token')} in {r['seconds']:.2f} s · "
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
                event, note=f"The last {plural(tokens, 'token')} of the prompt and output "
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
