"""Resume and Start from run on the task tabs, driven through their widgets: a stopped image
run resumed from the tab continues its steps past the stop and finishes (the earlier curve is
drawn first); a total below what was trained is refused with the engine's message; Train
"from run" with frozen layers makes a run whose run.json names its parent; the Runs tab's
entry points (``resume_run``, ``start_from_run``) do the same on the text tab."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playground.core import events as ev
from playground.ui.appctx import AppContext
from tests.ui.qt_helpers import collect_notices, open_tab, set_fields


@pytest.fixture
def image_tab(qtbot):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared
    from playground.ui.tabs.image_tab import ImageTab

    widget = open_tab(qtbot, ImageTab, (1300, 850), show=False)
    appctx = widget.appctx
    with qtbot.waitSignal(widget.data_runner.finished, timeout=60000):
        appctx.torch_loaded = True
        appctx.torch_ready.emit()
    yield widget
    widget.shutdown()
    torch.set_num_threads(threads)


def _finish(qtbot, tab, action, notices=()):
    with qtbot.waitSignal(tab.train_runner.finished, timeout=180000) as blocker:
        action()
        assert tab.train_runner.is_busy(), f"nothing started: {list(notices)}"
    return blocker.args[0]


def test_image_stop_resume_and_start_from_run(image_tab, qtbot):
    tab, v = image_tab, image_tab.view
    box = v.runs_box
    assert not box.resume_button.isEnabled()  # nothing to resume yet
    set_fields(v.form, epochs=2, image_size=16, batch_size=32)

    # Train, and Stop as soon as the first loss point is drawn
    def stop_at_first_loss(event):
        if isinstance(event, ev.Metric) and event.name == "loss" and v.stop_button.isEnabled():
            v.stop_button.click()

    tab.train_runner.event.connect(stop_at_first_loss)
    end = _finish(qtbot, tab, v.train_button.click)
    tab.train_runner.event.disconnect(stop_at_first_loss)
    assert isinstance(end, ev.Finished) and end.stopped, end
    run_dir = tab.current_run
    stopped_at = max(v.curves.series("loss", "train", "step")[0])
    assert json.loads((Path(run_dir) / "run.json").read_text())["status"] == "stopped"
    # the run just stopped is the one the box offers to resume, at its saved total
    assert box.run_combo.currentData() == run_dir and box.resume_button.isEnabled()
    assert "stopped" in box.run_combo.currentText() and box.total_spin.value() == 2
    assert "Resume continues" in box.note.text()

    end = _finish(qtbot, tab, box.resume_button.click)
    assert isinstance(end, ev.Finished) and not end.stopped, getattr(end, "details", end)
    xs, _ = v.curves.series("loss", "train", "step")
    assert min(xs) <= stopped_at < max(xs)  # the history, then steps past the stop point
    assert list(xs) == sorted(xs)
    assert len(v.curves.series("accuracy", "val", "epoch")[0]) == 2
    assert any("resumed at step" in line for line in v.log.lines())
    info = json.loads((Path(run_dir) / "run.json").read_text())
    assert info["status"] == "finished" and tab.current_run == run_dir
    assert v.train_button.isEnabled() and not v.stop_button.isEnabled()

    # a total below what was trained is refused with the engine's message; nothing starts
    box.total_spin.setValue(1)
    box.resume_button.click()
    assert not tab.train_runner.is_busy()
    assert any(level == "error" and "already trained 2 epochs" in msg
               for level, msg in tab.notices)

    # Start from run (the Runs tab's entry point) on other data (digits: a new head), with
    # the reused layers frozen, for one epoch: a new run that names its parent
    with qtbot.waitSignal(tab.data_runner.finished, timeout=60000):
        v.source_combo.setCurrentIndex(v.source_combo.findData("demo:digits"))
    set_fields(v.form, epochs=1, image_size=16, batch_size=32)
    tab.start_from_run(run_dir, "last")
    assert box.start_from_check.isChecked() and box.checkpoint_combo.currentData() == "last"
    assert "starts a new run from" in box.note.text() and "fresh weights" in box.note.text()
    box.freeze_check.setChecked(True)
    assert "frozen" in box.note.text()
    end = _finish(qtbot, tab, v.train_button.click)
    assert isinstance(end, ev.Finished), getattr(end, "details", end)
    child = tab.current_run
    assert child != run_dir
    parent = json.loads((Path(child) / "run.json").read_text())["parent"]
    assert parent["run"] == run_dir and parent["checkpoint"] == "last" and parent["reused"] > 0
    assert any("started from" in line and "reused" in line and "frozen" in line
               for line in v.log.lines())

    # resume_run: the public entry point selects the run and resumes it (here to 3 epochs)
    box.start_from_check.setChecked(False)
    tab.training.select_run(run_dir)
    box.total_spin.setValue(3)
    end = _finish(qtbot, tab, lambda: tab.resume_run(run_dir))
    assert isinstance(end, ev.Finished) and not end.stopped, getattr(end, "details", end)
    assert len(v.curves.series("accuracy", "val", "epoch")[0]) == 3


TINY_GPT = dict(model="gpt", n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4,
                max_iters=12, warmup_iters=2, eval_interval=6, eval_iters=1, sample_tokens=0)


def test_text_resume_further_and_start_from_run(qtbot):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    from playground.ui.tabs.text_tab import TextTab

    appctx = AppContext()
    notices = collect_notices(appctx)
    tab = TextTab(appctx)
    qtbot.addWidget(tab)
    tab.show()
    mode = tab.generate
    v = mode.view
    try:
        qtbot.waitUntil(lambda: mode.tokenizer is not None, timeout=30000)
        appctx.torch_loaded = True
        appctx.torch_ready.emit()
        set_fields(v.form, **TINY_GPT)
        end = _finish(qtbot, mode, v.train_button.click)
        assert isinstance(end, ev.Finished), getattr(end, "details", end)
        run_dir = mode.current_run
        box = v.runs_box
        assert box.run_combo.currentData() == run_dir and box.total_spin.value() == 12
        assert box.total_spin.suffix().strip() == "iterations"

        # a finished run trained further: 12 -> 18 iterations, its history drawn first
        box.total_spin.setValue(18)
        end = _finish(qtbot, mode, lambda: tab.resume_run(run_dir), notices)
        assert isinstance(end, ev.Finished) and not end.stopped, getattr(end, "details", end)
        assert end.result["steps"] == 18
        xs, _ = v.curves.series("loss", "val", "step")
        assert list(xs) == [0, 6, 12, 18]  # evaluations before and after the resume
        assert ("samples_per_s", "train", "step") not in v.curves.series_keys()
        assert not any(level == "error" for level, _ in notices), notices

        # start from it: the new run uses the parent's tokenizer and names its parent
        tab.start_from_run(run_dir)
        assert v.train_button.text() == "Train from run"
        set_fields(v.form, max_iters=6)
        end = _finish(qtbot, mode, v.train_button.click)
        assert isinstance(end, ev.Finished), getattr(end, "details", end)
        info = json.loads((Path(mode.current_run) / "run.json").read_text())
        assert info["parent"]["run"] == run_dir and info["parent"]["checkpoint"] == "best"
        assert any("started from" in line for line in v.log.lines())
    finally:
        tab.shutdown()
        torch.set_num_threads(threads)
