"""The Translate mode's translate panel: pick a trained translate run, type, and the
translation follows as you type, with its n-best list and attention maps.

Each edit (text, beam width, n-best, run) restarts a ~300 ms debounce timer; when it fires the
request runs on a :class:`JobRunner` worker (the model is loaded once through the shared model
cache). While a request runs, a newer one waits in a single slot that each newer request
overwrites: at most one is ever queued, and a result is shown only when nothing newer waits,
so what is shown is always the translation of the latest text.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, QTimer

from playground.core import events as ev
from playground.core.errors import PlaygroundError
from playground.ui.jobs import JobRunner
from playground.ui.tabs.settings_column import ERROR_STYLE, MUTED_STYLE
from playground.ui.tabs.task_common import RunChoice, run_label, task_runs
from playground.ui.tabs.translate_panel_view import ATTENTION_KINDS, ATTENTION_NOTES, fill_table
from playground.ui.tabs.translate_view import TranslateView
from playground.ui.widgets.combo import fill_combo

DEBOUNCE_MS = 300
Request = tuple[str, str, int, int]  # run folder, text, beam width, n-best


def _map_kind(maps: ev.AttentionMaps) -> str:
    """Which map an AttentionMaps event of a translation is (the job emits cross, encoder,
    decoder; the two self-attention kinds differ by the causal mask)."""
    if maps.kind == "cross":
        return "cross"
    return "decoder" if maps.causal else "encoder"


def _bleu(info: dict[str, Any]) -> str:
    best = (info.get("result") or {}).get("best_val_bleu")
    return f"BLEU {best:.1f}" if isinstance(best, (int, float)) else ""


def _tokenizer(info: dict[str, Any]) -> str:
    return str(((info.get("tokenizer") or {}).get("source") or {}).get("spec", ""))


class TranslatePanelPart(QObject):
    """Run picker, translation as you type, n-best list and attention of the Translate mode."""

    def __init__(self, appctx, view: TranslateView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.appctx, self.page = appctx, view.panel
        self.translate_runner = JobRunner("translate", self)
        appctx.watch(self.translate_runner)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.choices: dict[str, RunChoice] = {}
        self.running: Request | None = None
        self.queued: Request | None = None   # the one request waiting for the running one
        self.started: list[str] = []         # the texts of the requests started, in order
        self.result: dict[str, Any] | None = None
        self.maps: dict[str, ev.AttentionMaps] = {}
        self._incoming: dict[str, ev.AttentionMaps] = {}
        self._started_at = 0.0
        self._connect_signals()
        self.refresh_runs()

    def _connect_signals(self) -> None:
        p = self.page
        self.timer.timeout.connect(self.translate_now)
        p.refresh_runs_button.clicked.connect(lambda: self.refresh_runs())
        p.run_combo.currentIndexChanged.connect(self._on_run_selected)
        p.input_edit.textChanged.connect(self.schedule)
        p.beam_spin.valueChanged.connect(self._on_beam_changed)
        p.nbest_spin.valueChanged.connect(self.schedule)
        p.kind_combo.currentIndexChanged.connect(self.show_attention)
        self.translate_runner.event.connect(self._on_event)
        self.translate_runner.finished.connect(self._on_finished)
        self.appctx.torch_ready.connect(self.schedule)

    # runs -----------------------------------------------------------------------------------
    def refresh_runs(self, select: str | None = None) -> None:
        """List the translate runs with a checkpoint that are not training (newest first)."""
        try:
            runs = task_runs("translate")
        except OSError as exc:
            self.appctx.error(f"Could not list the translate runs: {exc}")
            runs = []
        self.choices = {c.path: c for c in runs}
        fill_combo(self.page.run_combo,
                   [(run_label(c, _tokenizer(c.info), _bleu(c.info)), c.path) for c in runs],
                   select=select, empty="No trained translate runs yet — train one first")
        self._on_run_selected()

    def _on_run_selected(self) -> None:
        choice = self.choices.get(self.page.run_combo.currentData() or "")
        if choice is None:
            self.page.run_info.setText("Train a model on the left (or with `playground train "
                                       "translate`), then translate with it here.")
        else:
            info = choice.info
            result = info.get("result") or {}
            parts = [str(info.get("model_title") or choice.model)]
            if isinstance(info.get("parameters"), int):
                parts[0] += f" with {info['parameters']:,} parameters"
            if _tokenizer(info):
                parts.append(f"tokenizer {_tokenizer(info)}")
            if result.get("epochs_done"):
                parts.append(f"trained {result['epochs_done']} epochs")
            if isinstance(result.get("best_val_bleu"), (int, float)):
                parts.append(f"best validation BLEU {result['best_val_bleu']:.2f} (epoch "
                             f"{result.get('best_epoch')})")
            data = info.get("dataset") or {}
            spec = str(data.get("spec") or info.get("data_spec") or "")
            if spec:
                parts.append(f"pairs {spec}" + (", swapped" if data.get("swap") else ""))
            self.page.run_info.setText(" · ".join(parts) + f"\n{choice.path}")
        self.schedule()

    # requests -------------------------------------------------------------------------------
    def schedule(self) -> None:
        """Translate after the debounce interval (restarted by every further edit)."""
        self.timer.start()

    def _on_beam_changed(self, beam: int) -> None:
        self.page.nbest_spin.setMaximum(beam)  # emits valueChanged when it clamps
        self.schedule()

    def translate_now(self) -> None:
        """Translate the text now, or, while a request runs, queue it in place of any queued
        one."""
        self.timer.stop()
        p = self.page
        text = p.input_edit.toPlainText()
        run_dir = p.run_combo.currentData()
        if not text.strip():
            self.queued = None
            self._clear_output("Type a sentence above: its translation appears here.")
            return
        if not run_dir:
            self.queued = None
            self._clear_output("No trained translate run yet: train one on the left, then "
                               "translate here.")
            return
        if not self.appctx.torch_loaded:
            self._clear_output("Loading PyTorch; the translation follows in a moment…")
            return
        beam = p.beam_spin.value()
        request = (str(run_dir), text, beam, min(p.nbest_spin.value(), beam))
        if self.translate_runner.is_busy():
            self.queued = request
            return
        self._start(request)

    def _start(self, request: Request) -> None:
        from playground.text.translate_predict import make_translate_job

        run_dir, text, beam, nbest = request
        try:
            job = make_translate_job(run_dir, text, beam=beam, nbest=nbest)
        except PlaygroundError as exc:
            self._fail(str(exc))
            return
        self.running, self._incoming = request, {}
        self.started.append(text)
        self._started_at = time.perf_counter()
        self.page.status.setStyleSheet(MUTED_STYLE)
        self.page.status.setText("Translating…")
        self.translate_runner.start(job, self.appctx.device)

    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.AttentionMaps):
            self._incoming[_map_kind(event)] = event

    def _on_finished(self, event: ev.Event) -> None:
        request, self.running = self.running, None
        if self.queued is not None:  # a newer text waits: this result is already stale
            queued, self.queued = self.queued, None
            self._start(queued)
            return
        if isinstance(event, ev.Failed):
            self._fail(event.message, event.details)
            return
        if isinstance(event, ev.Finished) and not event.stopped and event.result:
            self._show(event.result, request)

    # showing --------------------------------------------------------------------------------
    def _clear_output(self, status: str) -> None:
        p = self.page
        p.output.setText("")
        fill_table(p.nbest_table, [])
        p.unknown_warning.hide()
        p.status.setStyleSheet(MUTED_STYLE)
        p.status.setText(status)

    def _fail(self, message: str, details: str = "") -> None:
        self.result, self.maps = None, {}
        self._clear_output(message)
        self.page.status.setStyleSheet(ERROR_STYLE)
        self.page.attention.show_note(message)
        self.appctx.error(f"Translation failed: {message}", details)

    def _show(self, r: dict[str, Any], request: Request | None) -> None:
        p = self.page
        self.result, self.maps = r, dict(self._incoming)
        p.output.setText(r["text"] or "(an empty translation)")
        fill_table(p.nbest_table, [(str(i + 1), h["text"], f"{h['score']:.3f}",
                                    f"{h['logprob']:.3f}") for i, h in enumerate(r["nbest"])])
        unknown = r.get("unknown") or []
        p.unknown_warning.setVisible(bool(unknown))
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:10]) + (" …" if len(unknown) > 10
                                                                 else "")
            p.unknown_warning.setText(f"Not seen in training, so the model cannot read them: "
                                      f"{shown}.")
        ms = (time.perf_counter() - self._started_at) * 1000
        beam = request[2] if request else p.beam_spin.value()
        p.status.setStyleSheet(MUTED_STYLE)
        p.status.setText(f"{len(r['source_tokens'])} source and {len(r['target_tokens'])} "
                         f"target tokens · beam {beam} · {ms:,.0f} ms")
        self._update_kinds()
        self.show_attention()

    def _update_kinds(self) -> None:
        """Offer only the attention maps this model has (GRU/LSTM: cross-attention only)."""
        combo = self.page.kind_combo
        model = combo.model()
        for i in range(combo.count()):
            item = model.item(i)
            if item is not None:
                item.setEnabled(not self.maps or combo.itemData(i) in self.maps)
        if self.maps and combo.currentData() not in self.maps:
            combo.setCurrentIndex(max(0, combo.findData("cross")))

    def show_attention(self) -> None:
        """Draw the chosen kind of attention map of the last translation."""
        panel = self.page.attention
        if self.result is None:
            return
        kind = str(self.page.kind_combo.currentData())
        maps = self.maps.get(kind)
        if maps is None:
            panel.show_note("There is nothing to attend to: the text has no token the model "
                            "knows." if not self.maps else
                            f"This model has no {ATTENTION_KINDS[kind][0].split(':')[0].lower()}"
                            " (a GRU/LSTM model has cross-attention only).")
            return
        panel.set_kind(kind)
        panel.set_maps(maps, note=ATTENTION_NOTES[kind])

    def stop(self) -> None:
        """Forget waiting requests and cancel the running one (closing the mode)."""
        self.timer.stop()
        self.queued = None
        self.translate_runner.cancel()
