"""The Translate mode's training: Train / Stop / Resume / Start from run through the shared
:class:`~playground.ui.tabs.task_common.TrainingController`, and what only translation
shows while it trains: the validation BLEU and chrF of the last epoch with sacreBLEU's
signature strings beside them, and the fixed validation sentences translated after each
epoch beside their references.

The curves (train and validation loss, learning rate, tokens/s, BLEU, chrF, exact match)
are the controller's: every ``Metric`` the job emits is drawn on its plot.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from playground.core import events as ev
from playground.core.errors import PlaygroundError
from playground.text.translate_models import TRANSLATE_MODELS
from playground.text.translate_train import check_config
from playground.ui.jobs import JobRunner
from playground.ui.registry_watch import apply_model_uses
from playground.ui.tabs.settings_column import ready_to_train
from playground.ui.tabs.task_common import TrainingController
from playground.ui.tabs.translate_data import PairsPart, pairs_title
from playground.ui.tabs.translate_panel_view import fill_table
from playground.ui.tabs.translate_view import MUTED_STYLE, TRAINING_PAGE, TranslateView

SCORE_NAMES = ("bleu", "chrf", "exact", "loss")


@functools.cache
def scorer_signatures() -> dict[str, str]:
    """sacreBLEU's signatures of the scorers training uses (they name settings and version,
    not data, so scoring one sentence gives the strings the run's scores carry)."""
    from playground.text.translate_train import corpus_scores

    scores = corpus_scores(["a"], ["a"])
    return {"bleu_signature": scores["bleu_signature"],
            "chrf_signature": scores["chrf_signature"]}


class TranslateTrainingPart(QObject):
    """Training of the Translate mode. ``run_ready(run_dir, ended)`` when a run can translate
    (when its training ends: stopped or finished, with a checkpoint)."""

    run_ready = Signal(str, bool)

    def __init__(self, appctx, view: TranslateView, pairs: PairsPart,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.appctx, self.view, self.pairs = appctx, view, pairs
        self.train_runner = JobRunner("training", self)
        appctx.watch(self.train_runner)
        v = view
        self.training = TrainingController(
            appctx, "translate", v, self.train_runner, unit="epochs",
            locked=lambda: (v.form, v.source_combo, v.pairs_drop),
            on_start=self._clear, metric_text=lambda e: f", val BLEU {e.metric:.2f}",
            summary=self._summary, skip_metrics=("samples_per_s",),
            training_page=TRAINING_PAGE, parent=self)
        self.scores: dict[str, float] = {}   # the last evaluation's validation scores
        self.score_epoch: int | None = None
        self.signatures: dict[str, str] = {}
        self._connect_signals()
        self._apply_model_fields()

    def _connect_signals(self) -> None:
        v = self.view
        v.form.changed.connect(self._on_form_changed)
        v.train_button.clicked.connect(self.start_training)
        self.train_runner.event.connect(self._on_any_event)
        self.training.other_event.connect(self._on_train_event)
        self.training.ended.connect(self._on_train_finished)

    # options --------------------------------------------------------------------------------
    def _on_form_changed(self, name: str) -> None:
        if name in ("model", ""):
            self._apply_model_fields()

    def _apply_model_fields(self) -> None:
        """Grey out the options the chosen model does not read (its entry's ``uses``)."""
        apply_model_uses(self.view.form, TRANSLATE_MODELS)

    # training -------------------------------------------------------------------------------
    def start_training(self) -> None:
        if not ready_to_train(self.appctx, self.train_runner):
            return
        init_from, freeze = self.training.init_from()
        try:
            cfg = check_config(self.view.form.value())
            from playground.text.translate_train import make_train_job

            job = make_train_job(cfg, self.pairs.spec, init_from=init_from, freeze=freeze)
        except PlaygroundError as exc:
            self.appctx.error(str(exc))
            return
        start = f" from {Path(init_from.rsplit(':', 1)[0]).name}" if init_from else ""
        title = TRANSLATE_MODELS.get(cfg.model).title
        self.training.start(job, f"Training a {title}{start} on {pairs_title(self.pairs.spec)} "
                                 f"for {cfg.epochs:,} epochs…")

    def _clear(self) -> None:
        v = self.view
        self.scores, self.score_epoch, self.signatures = {}, None, {}
        v.scores_label.setText("Validation BLEU and chrF appear after the first epoch.")
        v.signature_label.setText("")
        fill_table(v.samples_table, [])
        v.samples_title.setText("The same validation sentences are translated after every "
                                "epoch (green: equal to the reference).")

    @staticmethod
    def _summary(r: dict[str, Any]) -> str | None:
        best = r.get("best_val_bleu")
        if not isinstance(best, (int, float)):
            return None
        chrf = r.get("val_chrf")
        return (f"best validation BLEU {best:.2f} (epoch {r.get('best_epoch')})"
                + (f", chrF {chrf:.1f} at the end" if isinstance(chrf, (int, float)) else ""))

    # events ---------------------------------------------------------------------------------
    def _on_any_event(self, event: ev.Event) -> None:
        """Scores and the model summary (the controller draws and logs them; this shows them
        where they are read at a glance)."""
        if (isinstance(event, ev.Metric) and event.split == "val" and event.axis == "epoch"
                and event.name in SCORE_NAMES):
            self.scores[event.name] = event.value
            self.score_epoch = int(event.x)
            if event.name == "bleu" and not self.signatures:
                self.signatures = dict(scorer_signatures())
            self.show_scores()
        elif isinstance(event, ev.ModelSummary):
            self.view.model_info.setText(f"{event.model}: {event.parameters:,} parameters "
                                         f"({event.trainable:,} trainable). {event.details}")

    def show_scores(self) -> None:
        v, s = self.view, self.scores
        parts = []
        if "bleu" in s:
            parts.append(f"<b>BLEU {s['bleu']:.2f}</b>")
        if "chrf" in s:
            parts.append(f"<b>chrF {s['chrf']:.2f}</b>")
        if "exact" in s:
            parts.append(f"exact match {s['exact']:.0%}")
        if "loss" in s:
            parts.append(f"loss {s['loss']:.3f}")
        v.scores_label.setText(f"Validation after epoch {self.score_epoch}: "
                               + " · ".join(parts))
        sig = self.signatures
        if sig:
            v.signature_label.setText(
                f"sacreBLEU  BLEU {sig.get('bleu_signature', '')}\n"
                f"           chrF {sig.get('chrf_signature', '')}")

    def _on_train_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.TranslationSamples):
            rows = list(zip(event.sources, event.references, event.hypotheses, strict=True))
            same = [h == r for _, r, h in rows]
            fill_table(self.view.samples_table, rows, highlight=same)
            self.view.samples_title.setText(
                f"Validation sentences after epoch {event.epoch} (step {event.step:,}): "
                f"{sum(same)} of {len(rows)} equal to the reference (green). The same "
                "sentences every epoch.")
            self.view.samples_title.setStyleSheet(MUTED_STYLE)

    def _on_train_finished(self, event: ev.Event) -> None:
        if isinstance(event, ev.Finished) and isinstance(event.result, dict):
            r = event.result
            sig = {k: r[k] for k in ("bleu_signature", "chrf_signature")
                   if isinstance(r.get(k), str)}
            if sig:
                self.signatures = sig
                if self.scores:
                    self.show_scores()
        if self.training.current_run:
            self.run_ready.emit(self.training.current_run, True)
