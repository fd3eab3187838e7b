"""The Generate mode's training: the model options (with the registry's model menu), the
parameter count, and Train / Stop / Resume / Start from run through the shared
:class:`~playground.ui.tabs.task_common.TrainingController`.

Starting from a run uses that run's tokenizer (pretrain on one corpus, fine-tune on
another), so the vocabulary, and the layers that depend on it, fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from playground.core import events as ev
from playground.core import schema
from playground.core.errors import PlaygroundError
from playground.text.models import TEXT_MODELS
from playground.text.train import TextTrainConfig, check_config
from playground.ui.jobs import JobRunner
from playground.ui.registry_watch import RegistryWatcher, apply_model_uses
from playground.ui.tabs.settings_column import ready_to_train
from playground.ui.tabs.task_common import LatestRequest, TrainingController
from playground.ui.tabs.text_corpus import CorpusPart
from playground.ui.tabs.text_view import ERROR_STYLE, MUTED_STYLE, GenerateView


def _parent_tokenizer(info: dict[str, Any] | None) -> tuple[str, int | None]:
    """(spec, vocabulary size) of the tokenizer a run was trained with."""
    tok = (info or {}).get("tokenizer") or {}
    spec = tok.get("spec") or ((info or {}).get("config") or {}).get("tokenizer") or ""
    size = tok.get("vocab_size")
    return str(spec), size if isinstance(size, int) else None


class TextTrainingPart(QObject):
    """Model options, model info and training of the Generate mode. ``run_ready(run_dir,
    ended)`` when a run can generate (at each best checkpoint, and when training ends)."""

    run_ready = Signal(str, bool)  # run folder, whether training has ended

    def __init__(self, appctx, view: GenerateView, corpus: CorpusPart,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.appctx, self.view, self.corpus = appctx, view, corpus
        self.info_runner = JobRunner("model", self)
        self.train_runner = JobRunner("training", self)
        appctx.watch(self.train_runner)
        v = view
        self.models = RegistryWatcher(TEXT_MODELS, self)  # the model menu follows the registry
        self.training = TrainingController(
            appctx, "text", v, self.train_runner, unit="iterations",
            locked=lambda: (v.form, v.source_combo, v.corpus_drop, v.tokenizer_combo),
            on_start=lambda: v.samples.set_text(""),
            metric_text=lambda e: f", val loss {e.metric:.4f}",
            summary=self._summary, skip_metrics=("samples_per_s",), parent=self)
        self.model_info = LatestRequest(self.info_runner, self._request_model_info,
                                        self._show_model_info, self)
        self._connect_signals()
        self._apply_model_fields()

    def _connect_signals(self) -> None:
        v = self.view
        v.form.changed.connect(self._on_form_changed)
        self.models.changed.connect(self._on_models_changed)
        v.train_button.clicked.connect(self.start_training)
        v.runs_box.start_from_check.toggled.connect(self.update_model_info)
        v.runs_box.run_combo.currentIndexChanged.connect(self.update_model_info)
        self.corpus.changed.connect(self.update_model_info)
        self.train_runner.busy_changed.connect(self._on_train_busy)
        self.training.other_event.connect(self._on_train_event)
        self.training.ended.connect(self._on_train_finished)

    # model info -----------------------------------------------------------------------------
    def config(self) -> TextTrainConfig:
        """The form's options with the tokenizer training uses (the chosen one, or that of the
        run Train starts from); raises ConfigError."""
        spec, _ = _parent_tokenizer(self.training.parent_info())
        cfg = schema.replace(self.view.form.value(),
                             tokenizer=spec or self.corpus.tokenizer_spec())
        return check_config(cfg)

    def _vocab_size(self) -> int | None:
        _, size = _parent_tokenizer(self.training.parent_info())
        return size or self.corpus.vocab_size()

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
        apply_model_uses(self.view.form, TEXT_MODELS)

    def update_model_info(self) -> None:
        """Parameter count and tokens per step, computed on a worker (meta device)."""
        if self.appctx.torch_loaded:
            self.model_info.update()

    def _request_model_info(self) -> None:
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

    def _show_model_info(self, event: ev.Event) -> None:
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

    # training -------------------------------------------------------------------------------
    def start_training(self) -> None:
        if not ready_to_train(self.appctx, self.train_runner):
            return
        c = self.corpus
        if c.corpus_runner.is_busy():
            self.appctx.info("Still reading the corpus; train when its statistics appear.")
            return
        init_from, freeze = self.training.init_from()
        try:
            cfg = self.config()
            from playground.text.train import make_train_job

            corpus = c.corpus if c.corpus is not None else c.corpus_spec
            if isinstance(c.corpus_spec, str) and c.corpus_spec.startswith("demo:"):
                # the spec, so run.json records a corpus a resume can read again (given a
                # loaded demo Corpus, text.train.corpus_spec records no files)
                corpus = c.corpus_spec
            # starting from a run, the job loads that run's tokenizer
            tokenizer = (c.tokenizer if c.tokenizer_built_for == cfg.tokenizer
                         and not init_from else None)
            job = make_train_job(cfg, corpus, tokenizer=tokenizer, init_from=init_from,
                                 freeze=freeze)
        except PlaygroundError as exc:
            self.appctx.error(str(exc))
            return
        start = f" from {Path(init_from).name}" if init_from else ""
        self.training.start(job, f"Training a {cfg.model.upper()}{start} ({cfg.tokenizer} "
                                 f"tokens) for {cfg.max_iters:,} iterations…")

    @staticmethod
    def _summary(r: dict[str, Any]) -> str | None:
        best = r.get("best_val_loss")
        return (f"best validation loss {best:.4f} at step {r.get('best_step')}"
                if best is not None else None)

    def _on_train_busy(self, busy: bool) -> None:
        v = self.view
        v.vocab_spin.setEnabled(not busy and self.corpus.tokenizer_spec() != "char")
        v.build_tokenizer_button.setEnabled(not busy
                                            and not self.corpus.tokenizer_runner.is_busy())

    def _on_train_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.SampleText):
            self.view.samples.append_sample(event.prompt + event.text,
                                            header=f"step {event.step}")
        elif (isinstance(event, ev.CheckpointSaved) and event.kind == "best"
              and self.training.current_run):
            self.run_ready.emit(self.training.current_run, False)

    def _on_train_finished(self, event: ev.Event) -> None:
        if self.training.current_run:
            self.run_ready.emit(self.training.current_run, True)
