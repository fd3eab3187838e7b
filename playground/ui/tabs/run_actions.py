"""The box every task tab's left column shares: "Continue or build on a run" (a run of the
task, Resume to a new total, Start from run with its best or last weights, Freeze, Export…,
Run on a bigger machine…)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from playground.ui.tabs.settings_column import MUTED_STYLE


class RunActionsBox(QGroupBox):
    """"Continue or build on a run": a run of this task, Resume (to a new total) and
    "Start from run" (Train makes a new run from its best or last weights)."""

    def __init__(self, unit: str = "epochs", parent: QWidget | None = None) -> None:
        super().__init__("Continue or build on a run", parent)
        self.unit = unit
        layout = QVBoxLayout(self)
        self.run_combo = QComboBox()
        self.run_combo.setMinimumWidth(200)
        self.run_combo.setToolTip("A saved run of this task: finished, stopped, or interrupted "
                                  "(its process ended without saying so)")
        layout.addWidget(self.run_combo)
        row = QHBoxLayout()
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue this run from its last checkpoint, in the same "
                                      "run folder; its curves continue where they stopped")
        row.addWidget(self.resume_button)
        row.addWidget(QLabel("to"))
        self.total_spin = QSpinBox()
        self.total_spin.setRange(1, 10_000_000)
        self.total_spin.setSuffix(f" {unit}")
        self.total_spin.setToolTip(f"How many {unit} the run should reach in all (more than it "
                                   "was set to trains a finished run further)")
        row.addWidget(self.total_spin, 1)
        layout.addLayout(row)
        row = QHBoxLayout()
        self.start_from_check = QCheckBox("Start from run")
        self.start_from_check.setToolTip("Train makes a new run initialised from this run's "
                                         "weights, with the settings and data on the left")
        row.addWidget(self.start_from_check)
        self.checkpoint_combo = QComboBox()
        self.checkpoint_combo.addItem("best checkpoint", "best")
        self.checkpoint_combo.addItem("last checkpoint", "last")
        row.addWidget(self.checkpoint_combo, 1)
        layout.addLayout(row)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Export this run to ONNX or .pt2, checked against the "
                                      "app's own outputs, with a predict.py beside it")
        self.export_button.clicked.connect(self.export_run)
        self.export_button.setEnabled(False)
        self.launch_button = QPushButton("Run on a bigger machine…")
        self.launch_button.setToolTip("Write a folder that trains this run on a machine with "
                                      "more GPUs, or a Slurm cluster, with torchrun (launch.sh, "
                                      "an sbatch script and a README)")
        self.launch_button.clicked.connect(self.launch_run)
        self.launch_button.setEnabled(False)
        self.run_combo.currentIndexChanged.connect(self._update_run_buttons)
        self.export_dialog = None
        self.launch_dialog = None
        self.freeze_check = QCheckBox("Freeze reused layers")
        self.freeze_check.setToolTip("Only the layers that are new (e.g. a head for other "
                                     "classes) are trained")
        layout.addWidget(self.freeze_check)
        row = QHBoxLayout()
        row.addWidget(self.export_button)
        row.addWidget(self.launch_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet(MUTED_STYLE)
        layout.addWidget(self.note)

    def _update_run_buttons(self, _index: int = 0) -> None:
        has_run = bool(self.run_combo.currentData())
        self.export_button.setEnabled(has_run)
        self.launch_button.setEnabled(has_run)

    def launch_run(self):
        """Open the "Run on a bigger machine…" dialog for the chosen run (returned, for
        tests)."""
        from playground.ui.launch_dialog import open_launch_dialog

        self.launch_dialog = open_launch_dialog(self.run_combo.currentData(), self.window())
        return self.launch_dialog

    def export_run(self):
        """Open the Export… dialog for the chosen run (returned, for tests)."""
        from playground.ui.export_dialog import open_export_dialog

        self.export_dialog = open_export_dialog(self.run_combo.currentData(), self.window())
        return self.export_dialog

    def controls(self) -> tuple[QWidget, ...]:
        """What must not change while a job trains."""
        return (self.run_combo, self.resume_button, self.total_spin, self.start_from_check,
                self.checkpoint_combo, self.freeze_check)


