"""Run on a bigger machine… and Runs → Import run folder… (issue 12), driven as a user does."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from playground import __version__
from playground.cli import build_parser
from playground.core import schema
from playground.core.runs import RunStore
from playground.ui.appctx import AppContext
from playground.ui.launch_dialog import LaunchDialog, default_out_dir
from playground.ui.tabs.run_actions import RunActionsBox
from playground.ui.tabs.runs_tab import RunsTab


def _image_run(store: RunStore, name: str = "digits", **changes):
    from playground.vision.config import ImageTrainConfig

    cfg = schema.to_dict(schema.replace(ImageTrainConfig(), **{"batch_size": 32, **changes}))
    run = store.create("image", name, model=cfg["model"], config=cfg,
                       extra={"data_spec": "demo:digits"})
    run.set_status("finished", result={"best_val_accuracy": 0.9})
    return run


def test_the_dialog_shows_the_command_for_the_choices_and_writes_the_folder(qtbot, tmp_path):
    run = _image_run(RunStore())
    dialog = LaunchDialog(run.path)
    qtbot.addWidget(dialog)
    assert dialog.write_button.isEnabled()
    assert dialog.out_edit.text() == str(default_out_dir(run.path, 4))
    command = dialog.command_view.toPlainText()
    assert command.startswith("torchrun --nnodes 1 --nproc-per-node 4 --standalone -m "
                              "playground train image")
    dialog.gpus_spin.setValue(8)
    dialog.nodes_spin.setValue(2)
    command = dialog.command_view.toPlainText()
    assert "--nnodes 2 --nproc-per-node 8 --rdzv-backend c10d" in command
    assert dialog.out_edit.text() == str(default_out_dir(run.path, 8, 2))
    # what it shows is the real train command of this run's settings
    args = shlex.split(command.split(" -m playground ", 1)[1])
    ns = build_parser().parse_args(args)
    from playground.cli.image import _config

    assert schema.to_dict(_config(ns)) == run.info()["config"]
    out = tmp_path / "for the cluster"
    dialog.out_edit.setText(str(out))
    dialog.out_edit.textEdited.emit(str(out))
    dialog.write_button.click()
    assert dialog.result is not None and dialog.open_button.isEnabled()
    assert "Wrote config.json, launch.sh, slurm.sbatch, README.md" in dialog.message.text()
    assert "b00020" not in dialog.message.styleSheet()
    assert "--nproc-per-node 8" in (out / "launch.sh").read_text()
    assert json.loads((out / "config.json").read_text())["launch"]["world_size"] == 16


def test_failures_are_one_red_sentence_and_the_dialog_stays_usable(qtbot, tmp_path):
    run = _image_run(RunStore(), batch_size=4)
    dialog = LaunchDialog(run.path)
    qtbot.addWidget(dialog)
    dialog.gpus_spin.setValue(8)  # more processes than the batch has samples
    assert "batch size 4 cannot be split over 8 processes" in dialog.message.text()
    assert "b00020" in dialog.message.styleSheet()
    assert not dialog.write_button.isEnabled() and dialog.command_view.toPlainText() == ""
    dialog.gpus_spin.setValue(2)
    assert dialog.write_button.isEnabled() and dialog.message.text() == ""
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    dialog.out_edit.setText(str(busy))
    dialog.write_button.click()
    assert dialog.result is None and not dialog.open_button.isEnabled()
    assert "exists and is not empty" in dialog.message.text()
    assert "b00020" in dialog.message.styleSheet() and "\n" not in dialog.message.text()
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    dialog.force_check.setChecked(True)
    dialog.write_button.click()
    assert dialog.result is not None and (busy / "notes.txt").read_text() == "mine"
    dialog.out_edit.setText("")
    dialog.write_button.click()
    assert dialog.message.text() == "Choose a folder to write the launch files to."


def test_a_run_that_cannot_run_distributed_says_so_at_once(qtbot):
    from playground.speech.train import CTCTrainConfig

    cfg = schema.to_dict(CTCTrainConfig())
    run = RunStore().create("speech", "w2v", model="wav2vec2", config={**cfg,
                                                                       "model": "wav2vec2"},
                            extra={"data_spec": "demo:digits", "speech_task": "ctc"})
    dialog = LaunchDialog(run.path)
    qtbot.addWidget(dialog)
    assert dialog.message.text().startswith("wav2vec 2.0 is a pretrained speech-to-text model")
    assert "b00020" in dialog.message.styleSheet() and not dialog.write_button.isEnabled()


def test_every_task_tabs_run_box_opens_it_beside_export(qtbot):
    run = _image_run(RunStore())
    box = RunActionsBox("epochs")
    qtbot.addWidget(box)
    assert not box.launch_button.isEnabled() and not box.export_button.isEnabled()
    box.run_combo.addItem(run.name, str(run.path))
    assert box.launch_button.isEnabled() and box.export_button.isEnabled()
    assert box.launch_button.text() == "Run on a bigger machine…"
    assert box.launch_button.parentWidget() is box.export_button.parentWidget()
    dialog = box.launch_run()
    assert isinstance(dialog, LaunchDialog) and dialog.run_dir == str(run.path)
    dialog.close()


def test_the_runs_tab_menu_opens_it_for_the_selected_run(qtbot):
    run = _image_run(RunStore())
    tab = RunsTab(AppContext())
    qtbot.addWidget(tab)
    tab.table.selectRow(0)
    action = next(a for a in tab.context_menu().actions()
                  if a.text() == "Run on a bigger machine…")
    assert action.isEnabled()
    action.trigger()
    assert isinstance(tab.launch_dialog, LaunchDialog)
    assert tab.launch_dialog.run_dir == str(run.path)
    tab.launch_dialog.close()


# --------------------------------------------------------------------------------------------
# Import run folder…
# --------------------------------------------------------------------------------------------
def _remote_run(tmp_path: Path, task: str = "translate", **info) -> Path:
    folder = tmp_path / "cluster" / f"20250101-120000-{task}-remote"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({
        "task": task, "name": "remote", "model": "transformer", "config": {"epochs": 3},
        "status": "finished", "versions": {"playground": __version__}, **info}))
    (folder / "metrics.jsonl").write_text('{"epoch": 1, "val_bleu": 12.5}\n')
    return folder


def test_import_run_folder_picks_a_folder_copies_it_and_selects_it(qtbot, tmp_path,
                                                                   monkeypatch):
    local = _image_run(RunStore(), "here")
    src = _remote_run(tmp_path)
    asked = []

    def pick(parent, caption, start):
        asked.append(caption)
        return str(src)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(pick))
    appctx = AppContext()
    notices = []
    appctx.notice.connect(lambda level, message, _d: notices.append((level, message)))
    tab = RunsTab(appctx)
    qtbot.addWidget(tab)
    tab.task_combo.setCurrentIndex(tab.task_combo.findData("image"))
    assert tab.table.rowCount() == 1 and tab.runs[0].path == local.path
    assert tab.import_button.text() == "Import run folder…"
    with qtbot.waitSignal(tab.import_runner.finished, timeout=10_000):
        tab.import_button.click()
    assert asked == ["Import run folder"]
    copy = RunStore().root / "translate" / src.name
    assert (copy / "run.json").is_file() and (src / "run.json").is_file()
    # the list refreshed (showing every task, since the filter would hide it) and selected it
    assert tab.task_combo.currentData() is None and tab.table.rowCount() == 2
    assert [r.path for r in tab.selected_runs()] == [copy]
    assert notices[-1] == ("info", f"Imported {src.name} into the translate runs.")
    assert tab.import_button.isEnabled()


def test_import_of_a_folder_that_is_not_a_run_is_one_sentence(qtbot, tmp_path, monkeypatch):
    appctx = AppContext()
    notices = []
    appctx.notice.connect(lambda level, message, _d: notices.append((level, message)))
    tab = RunsTab(appctx)
    qtbot.addWidget(tab)
    newer = _remote_run(tmp_path, versions={"playground": "99.0"})
    with qtbot.waitSignal(tab.import_runner.finished, timeout=10_000):
        assert tab.import_folder(newer)
    level, message = notices[-1]
    assert level == "error" and message == (
        f"{newer} was written by Model Playground 99.0, newer than this one ({__version__}): "
        "update the app to import it.")
    assert tab.table.rowCount() == 0
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a: ""))  # the picker was cancelled
    assert tab.import_folder() is False
