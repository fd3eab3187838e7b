"""Run on a bigger machine… : a dialog that writes a launch folder for one run.

Opened from every task tab's "Continue or build on a run" box and from the Runs tab's menu.
It asks for the GPUs per node, the nodes and the folder, shows the exact ``torchrun`` command
as the choices change, and writes the folder (config.json, launch.sh, slurm.sbatch, README.md;
see :mod:`playground.core.launch`). A run that cannot be launched, or a folder that cannot be
written, is said in one red sentence. Writing a few small files needs no worker thread.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from playground.core import launch, runconfig
from playground.ui.tabs.settings_column import ERROR_STYLE, MUTED_STYLE, label

log = logging.getLogger(__name__)

DEFAULT_GPUS = 4


def default_out_dir(run_dir: str | Path, gpus: int, nodes: int = 1) -> Path:
    """``<home>/launches/<run folder name>-<N>gpu`` (``-<M>x<N>gpu`` on several nodes)."""
    from playground.core.paths import home_dir

    size = f"{nodes}x{gpus}gpu" if nodes > 1 else f"{gpus}gpu"
    return home_dir() / "launches" / f"{Path(run_dir).name}-{size}"


def _sentence(exc: BaseException) -> str:
    from playground.core.jobs import describe_exception

    log.error("launch folder failed (%s): %s", type(exc).__name__, exc, exc_info=exc)
    return describe_exception(exc, in_job=False)


class LaunchDialog(QDialog):
    """Write a launch folder for one run; ``result`` holds what was written."""

    def __init__(self, run_dir: str | Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_dir = str(run_dir)
        self.result: dict[str, Any] | None = None
        self.plan: launch.LaunchPlan | None = None
        self.setWindowTitle(f"Run {Path(run_dir).name} on a bigger machine")
        self.setMinimumWidth(640)
        layout = QVBoxLayout(self)
        layout.addWidget(label(f"Run: {self.run_dir}", MUTED_STYLE))
        layout.addWidget(label("Writes a folder to copy to a machine with more GPUs (or a "
                               "Slurm cluster): the run's settings, a launch.sh with the "
                               "torchrun command, an sbatch script and a README saying what to "
                               "install and how to bring the run back. The batch size is the "
                               "global batch, so the training is the same on any number of "
                               "GPUs.", MUTED_STYLE))
        form = QFormLayout()
        self.gpus_spin = QSpinBox()
        self.gpus_spin.setRange(1, launch.MAX_GPUS)
        self.gpus_spin.setValue(DEFAULT_GPUS)
        self.gpus_spin.setToolTip("Processes per machine: one per GPU (torchrun "
                                  "--nproc-per-node)")
        form.addRow("GPUs per node:", self.gpus_spin)
        self.nodes_spin = QSpinBox()
        self.nodes_spin.setRange(1, launch.MAX_NODES)
        self.nodes_spin.setToolTip("Machines; more than one meet through torchrun's "
                                   "rendezvous on the first (MASTER_ADDR, or Slurm's first "
                                   "node)")
        form.addRow("Nodes:", self.nodes_spin)
        row = QHBoxLayout()
        self.out_edit = QLineEdit()
        self.browse_button = QPushButton("Choose…")
        row.addWidget(self.out_edit, 1)
        row.addWidget(self.browse_button)
        form.addRow("Folder:", row)
        self.force_check = QCheckBox("Write into a folder that is not empty (only the launch "
                                     "files are replaced)")
        form.addRow("", self.force_check)
        layout.addLayout(form)
        layout.addWidget(label("Command (launch.sh runs it; slurm.sbatch runs it with srun):"))
        self.command_view = QPlainTextEdit()
        self.command_view.setReadOnly(True)
        self.command_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.command_view.setMinimumHeight(110)
        layout.addWidget(self.command_view, 1)
        self.notes = label("", MUTED_STYLE)
        layout.addWidget(self.notes)
        self.message = label("")
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open folder")
        self.open_button.setEnabled(False)
        self.write_button = QPushButton("Write folder")
        self.write_button.setDefault(True)
        self.close_button = QPushButton("Close")
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        buttons.addWidget(self.write_button)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self._out_edited = False
        self._source: runconfig.RunConfig | None = None
        self._source_error = ""
        try:
            self._source = runconfig.load_source(self.run_dir)
        except Exception as exc:  # noqa: BLE001 - shown as one sentence, logged
            self._source_error = _sentence(exc)
        self._connect_signals()
        self._update()

    def _connect_signals(self) -> None:
        self.gpus_spin.valueChanged.connect(self._update)
        self.nodes_spin.valueChanged.connect(self._update)
        self.out_edit.textEdited.connect(lambda _t: setattr(self, "_out_edited", True))
        self.browse_button.clicked.connect(self._browse)
        self.write_button.clicked.connect(self.write)
        self.close_button.clicked.connect(self.close)
        self.open_button.clicked.connect(self._open_folder)

    # the plan --------------------------------------------------------------------------------
    @property
    def gpus(self) -> int:
        return self.gpus_spin.value()

    @property
    def nodes(self) -> int:
        return self.nodes_spin.value()

    def _update(self) -> None:
        """Recompute the plan and the command for the current choices."""
        if not self._out_edited:
            self.out_edit.setText(str(default_out_dir(self.run_dir, self.gpus, self.nodes)))
        self.plan = None
        if self._source is None:
            self._fail(self._source_error)
            return
        try:
            self.plan = launch.plan_launch(self._source, self.gpus, self.nodes)
        except Exception as exc:  # noqa: BLE001 - shown as one sentence, logged
            self._fail(_sentence(exc))
            return
        self.command_view.setPlainText(launch.command_text(self.plan))
        self.notes.setText(" ".join(self.plan.notes))
        self.message.setStyleSheet("")
        self.message.setText("")
        self.write_button.setEnabled(True)

    def _fail(self, text: str) -> None:
        self.command_view.setPlainText("")
        self.notes.setText("")
        self._show_error(text)
        self.write_button.setEnabled(False)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Write the launch folder to",
                                                  self.out_edit.text())
        if folder:
            self.out_edit.setText(folder)
            self._out_edited = True

    def _open_folder(self) -> None:
        if self.result and self.result.get("out_dir"):
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.result["out_dir"])))

    # writing ---------------------------------------------------------------------------------
    def write(self) -> dict[str, Any] | None:
        """Write the folder; the result (also in ``self.result``), or None after a failure."""
        self.result = None
        self.open_button.setEnabled(False)
        if self.plan is None:
            return None
        out = self.out_edit.text().strip()
        if not out:
            self._show_error("Choose a folder to write the launch files to.")
            return None
        try:
            result = launch.write_launch(self.plan, out, force=self.force_check.isChecked())
        except Exception as exc:  # noqa: BLE001 - shown as one sentence, logged
            self._show_error(_sentence(exc))
            return None
        self.result = result
        names = ", ".join(Path(f).name for f in result["files"])
        self.message.setStyleSheet("")
        self.message.setText(f"Wrote {names} to {result['out_dir']}: copy the folder to the "
                             "bigger machine and follow its README.md.")
        self.open_button.setEnabled(True)
        return result

    def _show_error(self, text: str) -> None:
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setText(text)


def open_launch_dialog(run_dir: str | Path | None, parent: QWidget | None = None
                       ) -> LaunchDialog | None:
    """Show the (non-modal) launch dialog for ``run_dir``; ``None`` when no run is given."""
    if not run_dir:
        return None
    dialog = LaunchDialog(run_dir, parent)
    dialog.show()
    return dialog
