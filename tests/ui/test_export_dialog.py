"""Export…: the Runs tab and every task tab's run box open the export dialog, which runs the
export as a job and shows the parity figures, or one red sentence when the export fails."""

from __future__ import annotations

import sys
import types

import pytest

from playground.core.errors import PlaygroundError
from playground.core.runs import RunStore
from playground.ui.appctx import AppContext
from playground.ui.export_dialog import ExportDialog, default_out_dir, parity_text
from playground.ui.tabs.run_actions import RunActionsBox
from playground.ui.tabs.runs_tab import RunsTab


def _run_with_weights(store: RunStore, name: str = "exp"):
    run = store.create("image", name, model="small_cnn", config={"epochs": 1})
    run.log_metrics(epoch=1, val_accuracy=0.5, val_loss=0.5)
    run.best_checkpoint.write_bytes(b"weights")  # only its presence matters here
    run.set_status("finished", result={"best_val_accuracy": 0.5})
    return run


@pytest.fixture
def fake_export(monkeypatch):
    """Stands in for playground.core.export: records its calls; ``fail`` makes it raise."""
    calls: list = []
    module = types.ModuleType("playground.core.export")
    module.fail = None

    def make_export_job(run_dir, fmt, out_dir, checkpoint="best"):
        def job(ctx):
            from playground.core import events as ev

            calls.append((str(run_dir), fmt, str(out_dir), checkpoint))
            ctx.emit(ev.Progress(1, 2, "exporting"))
            ctx.emit(ev.Log("checking parity"))
            if module.fail:
                raise PlaygroundError(module.fail)
            return {"files": [f"{out_dir}/model.onnx", f"{out_dir}/predict.py"], "format": fmt,
                    "size_bytes": 2_500_000, "export_seconds": 1.0,
                    "parity": {"max_abs_diff": 3e-6, "top1_agreement": 1.0, "samples": 12,
                               "batch_size": 3, "seq_len": None, "ok": True}}
        return job

    module.make_export_job = make_export_job
    monkeypatch.setitem(sys.modules, "playground.core.export", module)
    import playground.core

    monkeypatch.setattr(playground.core, "export", module, raising=False)
    return module, calls


def test_runs_tab_exports_the_selected_run_and_shows_parity(qtbot, fake_export):
    module, calls = fake_export
    run = _run_with_weights(RunStore())
    tab = RunsTab(AppContext())
    qtbot.addWidget(tab)
    tab.table.clearSelection()
    assert not tab.view.export_button.isEnabled()  # nothing selected
    tab.table.selectRow(0)
    assert tab.view.export_button.isEnabled()
    dialog = tab.export_selected()
    assert isinstance(dialog, ExportDialog)
    assert dialog.out_edit.text() == str(default_out_dir(run.path, "onnx"))
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("pt2"))
    assert dialog.out_edit.text() == str(default_out_dir(run.path, "pt2"))
    dialog.checkpoint_combo.setCurrentIndex(dialog.checkpoint_combo.findData("last"))
    with qtbot.waitSignal(dialog.runner.finished, timeout=10_000):
        dialog.export_button.click()
    assert calls == [(str(run.path), "pt2", str(default_out_dir(run.path, "pt2")), "last")]
    text = dialog.message.text()
    assert "3.00e-06" in text and "100.0%" in text and "batch 3" in text
    assert "model.onnx" in text and "2.5 MB" in text
    assert dialog.open_button.isEnabled() and dialog.export_button.text() == "Export"
    dialog.close()


def test_a_failed_export_is_one_red_sentence_and_the_dialog_stays_usable(qtbot, fake_export):
    module, calls = fake_export
    run = _run_with_weights(RunStore())
    module.fail = "The exported model differs from the app's by 0.3 (tolerance 1e-4)."
    dialog = ExportDialog(run.path)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.runner.finished, timeout=10_000):
        dialog.export_button.click()
    assert dialog.message.text() == module.fail
    assert "b00020" in dialog.message.styleSheet()
    assert not dialog.open_button.isEnabled() and dialog.format_combo.isEnabled()
    dialog.out_edit.setText("")
    dialog.export_button.click()  # no folder: said, nothing started
    assert "Choose a folder" in dialog.message.text() and len(calls) == 1


def test_every_task_tabs_run_box_has_export(qtbot, fake_export):
    run = _run_with_weights(RunStore())
    box = RunActionsBox("epochs")
    qtbot.addWidget(box)
    assert not box.export_button.isEnabled()  # no run to export
    box.run_combo.addItem(run.name, str(run.path))
    assert box.export_button.isEnabled()
    dialog = box.export_run()
    assert isinstance(dialog, ExportDialog) and dialog.run_dir == str(run.path)
    dialog.close()


def test_parity_text_names_length_when_there_is_one():
    text = parity_text({"parity": {"max_abs_diff": 1e-5, "top1_agreement": 0.995,
                                   "batch_size": 5, "seq_len": 17, "samples": 40}})
    assert text == ("largest difference from the app's outputs 1.00e-05; top-1 agreement "
                    "99.5% (batch 5, length 17, 40 samples)")


def test_a_real_export_from_the_dialog(qtbot, tmp_path):
    pytest.importorskip("onnxruntime")
    import torch

    from playground.cli import main

    threads = torch.get_num_threads()
    try:
        assert main(["train", "image", "--data", "demo:shapes", "--image-size", "16",
                     "--epochs", "1", "--batch-size", "32", "--max-steps", "3", "--name", "d",
                     "--device", "cpu", "--threads", "1", "--quiet"]) == 0
    finally:
        torch.set_num_threads(threads)
    run = RunStore().scan("image")[0][0]
    dialog = ExportDialog(run.path)
    qtbot.addWidget(dialog)
    dialog.out_edit.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(dialog.runner.finished, timeout=120_000):
        dialog.export_button.click()
    assert "Exported and checked" in dialog.message.text(), dialog.message.text()
    assert (tmp_path / "out" / "model.onnx").is_file()
    assert (tmp_path / "out" / "predict.py").is_file()
