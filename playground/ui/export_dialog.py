"""Export… : a dialog that exports one run to ONNX or ``.pt2`` as a job and shows the parity check.

Opened from the Runs tab and from every task tab's "Continue or build on a run" box. The work
is :func:`playground.core.export.make_export_job` on the dialog's own job runner (on the CPU:
exporting traces the model, it does not train it); the dialog shows its progress and log, then
the files written and the parity figures (largest difference from the app's own outputs and
top-1 agreement, on inputs of another batch size and length than the traced ones). A failed
export, parity above tolerance included, is shown as one sentence in red, never as done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from playground.core import events as ev
from playground.ui.jobs import JobRunner, cancel_and_join
from playground.ui.tabs.settings_column import ERROR_STYLE, MUTED_STYLE, label

FORMATS = (("onnx", "ONNX (.onnx, runs with onnxruntime; predict.py beside it)"),
           ("pt2", "PyTorch export (.pt2, torch.export)"))


def default_out_dir(run_dir: str | Path, fmt: str) -> Path:
    """``<home>/exports/<run folder name>-<format>``."""
    from playground.core.paths import home_dir

    return home_dir() / "exports" / f"{Path(run_dir).name}-{fmt}"


def parity_text(result: dict[str, Any]) -> str:
    """One line of the parity figures of an export result."""
    p = result.get("parity") or {}
    parts = []
    if isinstance(p.get("max_abs_diff"), (int, float)):
        parts.append(f"largest difference from the app's outputs {p['max_abs_diff']:.2e}")
    if isinstance(p.get("top1_agreement"), (int, float)):
        parts.append(f"top-1 agreement {p['top1_agreement']:.1%}")
    shape = [f"batch {p['batch_size']}"] if p.get("batch_size") else []
    if p.get("seq_len"):
        shape.append(f"length {p['seq_len']}")
    if p.get("samples"):
        shape.append(f"{p['samples']} samples")
    text = "; ".join(parts) or "no parity figures"
    return f"{text} ({', '.join(shape)})" if shape else text


class ExportDialog(QDialog):
    """Export one run; ``runner`` is public for tests (wait on ``runner.finished``)."""

    def __init__(self, run_dir: str | Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_dir = str(run_dir)
        self.result: dict[str, Any] | None = None
        self.setWindowTitle(f"Export {Path(run_dir).name}")
        self.setMinimumWidth(560)
        self.runner = JobRunner("export", self)
        layout = QVBoxLayout(self)
        layout.addWidget(label(f"Run: {self.run_dir}", MUTED_STYLE))
        form = QFormLayout()
        self.format_combo = QComboBox()
        for key, text in FORMATS:
            self.format_combo.addItem(text, key)
        form.addRow("Format:", self.format_combo)
        self.checkpoint_combo = QComboBox()
        self.checkpoint_combo.addItem("best checkpoint", "best")
        self.checkpoint_combo.addItem("last checkpoint", "last")
        form.addRow("Weights:", self.checkpoint_combo)
        row = QHBoxLayout()
        self.out_edit = QLineEdit()
        self.browse_button = QPushButton("Choose…")
        row.addWidget(self.out_edit, 1)
        row.addWidget(self.browse_button)
        form.addRow("Folder:", row)
        layout.addLayout(form)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        layout.addWidget(self.progress)
        self.log = label("", MUTED_STYLE)
        layout.addWidget(self.log)
        self.message = label("")
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open folder")
        self.open_button.setEnabled(False)
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.close_button = QPushButton("Close")
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self._out_edited = False
        self._fill_out_dir()
        self.format_combo.currentIndexChanged.connect(self._fill_out_dir)
        self.out_edit.textEdited.connect(lambda _t: setattr(self, "_out_edited", True))
        self.browse_button.clicked.connect(self._browse)
        self.export_button.clicked.connect(self.export_or_stop)
        self.close_button.clicked.connect(self.close)
        self.open_button.clicked.connect(self._open_folder)
        self.runner.event.connect(self._on_event)
        self.runner.finished.connect(self._on_finished)
        self.runner.busy_changed.connect(self._on_busy)

    # settings ------------------------------------------------------------------------------
    @property
    def fmt(self) -> str:
        return str(self.format_combo.currentData())

    def _fill_out_dir(self) -> None:
        if not self._out_edited:
            self.out_edit.setText(str(default_out_dir(self.run_dir, self.fmt)))

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", self.out_edit.text())
        if folder:
            self.out_edit.setText(folder)
            self._out_edited = True

    def _open_folder(self) -> None:
        if self.result and self.result.get("out_dir"):
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.result["out_dir"])))

    # the job -------------------------------------------------------------------------------
    def export_or_stop(self) -> None:
        if self.runner.is_busy():
            self.runner.cancel()
            return
        out = self.out_edit.text().strip()
        if not out:
            self._show_error("Choose a folder to export to.")
            return
        run_dir, fmt, checkpoint = self.run_dir, self.fmt, str(self.checkpoint_combo.currentData())

        def job(ctx):
            from playground.core.export import make_export_job

            result = make_export_job(run_dir, fmt, out, checkpoint=checkpoint)(ctx)
            return {**result, "out_dir": out}

        self.result = None
        self.message.setText("")
        self.log.setText("Exporting…")
        self.open_button.setEnabled(False)
        self.runner.start(job, "cpu")

    def _on_busy(self, busy: bool) -> None:
        self.export_button.setText("Stop" if busy else "Export")
        for w in (self.format_combo, self.checkpoint_combo, self.out_edit, self.browse_button):
            w.setEnabled(not busy)
        if busy:
            self.progress.setRange(0, 0)  # busy until the first progress event

    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.Progress) and event.total:
            self.progress.setRange(0, int(event.total))
            self.progress.setValue(int(event.done))
        elif isinstance(event, ev.Log):
            self.log.setText(event.message)

    def _on_finished(self, event: ev.Event) -> None:
        self.progress.setRange(0, 1)
        if isinstance(event, ev.Failed):
            self.progress.setValue(0)
            self._show_error(event.message)
            return
        if isinstance(event, ev.Finished) and event.stopped:
            self.progress.setValue(0)
            self.log.setText("Export stopped; nothing was kept half-written.")
            return
        self.progress.setValue(1)
        self.result = event.result if isinstance(event.result, dict) else {}
        files = [Path(f).name for f in self.result.get("files", [])]
        size = self.result.get("size_bytes")
        size_text = f", {size / 1e6:.1f} MB" if isinstance(size, (int, float)) else ""
        self.message.setStyleSheet("")
        self.message.setText(f"Exported and checked: {parity_text(self.result)}.\n"
                             f"Files{size_text}: {', '.join(files)}")
        self.log.setText(f"In {self.result.get('out_dir')}")
        self.open_button.setEnabled(True)

    def _show_error(self, text: str) -> None:
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setText(text)
        self.log.setText("")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        cancel_and_join([self.runner])  # an export in progress stops; its thread is joined
        super().closeEvent(event)


def open_export_dialog(run_dir: str | Path | None, parent: QWidget | None = None
                       ) -> ExportDialog | None:
    """Show the (non-modal) export dialog for ``run_dir``; ``None`` when no run is given."""
    if not run_dir:
        return None
    dialog = ExportDialog(run_dir, parent)
    dialog.show()
    return dialog
