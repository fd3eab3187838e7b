"""The Runs tab with runs made by the real engine: a fork's lineage, its curves continuing from
its parent's step on the compare plot, Resume run from the Runs tab to a finished run with more
steps, and Resume / Start from handed over to the task's tab of the real main window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playground.core import events as ev
from playground.core.runs import Run
from playground.ui.appctx import AppContext
from playground.ui.tabs.runs_tab import COLUMNS, RunsTab

FROM = COLUMNS.index("From")
STATUS = COLUMNS.index("Status")


def _train(**kwargs) -> Path:
    """A real image run: the shapes demo at 16 px, one epoch of 5 steps (batch 256)."""
    from playground.core.jobs import CollectingContext, run_job
    from playground.vision.train import ImageTrainConfig, make_train_job

    cfg = ImageTrainConfig(image_size=16, epochs=1, batch_size=256)
    terminal = run_job(make_train_job(cfg, "demo:shapes", **kwargs), CollectingContext())
    assert isinstance(terminal, ev.Finished), terminal
    return Path(terminal.result["run_dir"])


def _row(tab: RunsTab, path: Path) -> int:
    return [e.run.path for e in tab.entries].index(path)


def _curve(tab: RunsTab, name: str):
    for curve in tab.plot.getPlotItem().listDataItems():
        if curve.name().startswith(name):
            return curve
    raise AssertionError(f"no curve of {name}")


@pytest.fixture
def parent_and_fork(one_thread):
    parent = _train(name="scratch")
    fork = _train(name="fine-tuned", init_from=f"{parent}:best")
    return parent, fork


def test_fork_lineage_and_aligned_compare_plot(qtbot, parent_and_fork):
    parent, fork = parent_and_fork
    step = json.loads((fork / "run.json").read_text())["parent"]["step"]
    assert step == 5
    tab = RunsTab(AppContext())
    qtbot.addWidget(tab)
    assert tab.table.rowCount() == 2
    fork_row, parent_row = _row(tab, fork), _row(tab, parent)
    assert tab.table.item(fork_row, FROM).text() == f"{parent.name} (best, step 5)"
    assert tab.table.item(parent_row, FROM).text() == ""

    tab.select_runs([Run(fork)])
    details = tab.details.toPlainText()
    assert f"started from {parent.name} (best, step 5): reused 20 tensors; new: none" in details
    assert "Started from" in tab.view.lineage_label.text()
    assert tab.view.parent_button.isEnabled() and not tab.view.children_button.isEnabled()
    tab.view.parent_button.click()  # the parent is selected and says who started from it
    assert tab.selected_runs() == [Run(parent)]
    assert tab.view.lineage_label.text() == "Trained from scratch. 1 run(s) started from it."
    assert f"started from it: {fork.name}" in tab.details.toPlainText()
    assert tab.view.children_button.text() == "Children (1)"
    tab.view.children_button.click()
    assert tab.selected_runs() == [Run(fork)]

    tab.compare_with_parent()  # both on one chart, the fork continuing from the parent
    assert {r.path for r in tab.selected_runs()} == {parent, fork}
    tab.metric_combo.setCurrentText("train_loss")  # per-step rows: x is the step
    assert tab.plot.getPlotItem().getAxis("bottom").labelText == "step"
    assert list(_curve(tab, parent.name).xData) == [1, 2, 3, 4, 5]
    fork_curve = _curve(tab, fork.name)
    assert list(fork_curve.xData) == [6, 7, 8, 9, 10]
    assert "fork" in fork_curve.name()
    tab.metric_combo.setCurrentText("val_accuracy")  # evaluation rows of an epoch task
    assert tab.plot.getPlotItem().getAxis("bottom").labelText == "epoch"
    assert list(_curve(tab, parent.name).xData) == [1]
    assert list(_curve(tab, fork.name).xData) == [2]  # its first epoch follows the parent's

    tab.view.align_check.setChecked(False)  # each run on its own axis again
    assert list(_curve(tab, fork.name).xData) == [1]
    tab.metric_combo.setCurrentText("train_loss")
    assert list(_curve(tab, fork.name).xData) == [1, 2, 3, 4, 5]
    tab.view.align_check.setChecked(True)

    # the parent deleted: the fork still names it and keeps its place on the step axis
    tab.select_runs([Run(parent)])
    tab.delete_selected(confirm=False)
    assert tab.table.rowCount() == 1
    assert tab.table.item(0, FROM).text() == f"{parent.name} (gone) (best, step 5)"
    tab.select_runs([Run(fork)])
    assert list(_curve(tab, fork.name).xData) == [6, 7, 8, 9, 10]
    assert "no longer listed" in tab.details.toPlainText()


def test_resume_from_the_runs_tab_trains_on_to_the_new_total(qtbot, one_thread):
    run_dir = _train(name="short")
    steps_before = json.loads((run_dir / "run.json").read_text())["result"]["steps"]
    appctx = AppContext()
    progress = []
    appctx.progress.connect(lambda name, event: progress.append((name, event)))
    tab = RunsTab(appctx)  # on its own: no task tab to hand over to, so it resumes here
    qtbot.addWidget(tab)
    tab.select_runs([Run(run_dir)])
    assert tab.table.item(0, STATUS).text() == "finished"
    assert tab.view.resume_button.isEnabled()
    assert tab.view.total_spin.suffix() == " epochs"
    assert tab.view.total_label.text() == "new total (now 1):"

    notices = []
    appctx.notice.connect(lambda level, message, details: notices.append(message))
    tab.view.resume_button.click()  # finished, and no new total: it asks for one
    assert not tab.resume_runner.is_busy()
    assert "set a larger new total" in notices[-1]

    tab.view.total_spin.setValue(2)
    with qtbot.waitSignal(tab.resume_runner.finished, timeout=120_000) as finished:
        tab.view.resume_button.click()
        assert tab.view.resume_button.text() == "Stop resuming"
    assert isinstance(finished.args[0], ev.Finished), finished.args[0]
    assert any(name == "resume" and event is not None for name, event in progress)
    assert notices[-1] == f"Resuming {run_dir.name} finished."
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "finished"
    assert info["result"]["steps"] > steps_before
    assert info["result"]["epochs_done"] == 2
    assert tab.table.item(0, STATUS).text() == "finished"
    assert tab.view.resume_button.text() == "Resume"
    tab.metric_combo.setCurrentText("val_accuracy")  # the curve goes on in the same run
    assert list(_curve(tab, run_dir.name).xData) == [1, 2]


def _window(qtbot):
    from playground.ui.app import create_window

    _, window = create_window()
    qtbot.addWidget(window)
    window.show()
    return window


def _stopped_run(store_task: str = "image") -> Run:
    """A run that stopped after a checkpoint (enough for the hand-over, which is faked)."""
    from playground.core.runs import RunStore

    run = RunStore().create(store_task, "stopped", model="small_cnn", config={"epochs": 3})
    run.log_metrics(step=1, train_loss=1.0)
    for name in ("last.safetensors", "best.safetensors", "optimizer.pt"):
        (run.checkpoints / name).write_bytes(b"x")
    run.set_status("stopped")
    return run


def test_resume_and_start_from_hand_over_to_the_task_tab(qtbot, monkeypatch):
    run = _stopped_run()
    window = _window(qtbot)
    image_tab = window.task_tab("image")
    assert image_tab is window.tab_widgets["Image recognition"]
    assert window.task_tab("text") is window.tab_widgets["Text"]
    assert window.task_tab("nope") is None
    calls = []
    monkeypatch.setattr(image_tab, "resume_run",
                        lambda run_dir, total=None: calls.append(("resume", run_dir, total)),
                        raising=False)
    monkeypatch.setattr(image_tab, "start_from_run",
                        lambda run_dir, checkpoint="best": calls.append(("start", run_dir,
                                                                         checkpoint)),
                        raising=False)
    runs_tab = window.tab_widgets["Runs"]
    window.tabs.setCurrentWidget(runs_tab)
    runs_tab.select_runs([run])
    assert runs_tab.table.item(0, STATUS).text() == "stopped"
    runs_tab.view.resume_button.click()
    assert calls == [("resume", str(run.path), None)]
    assert window.tabs.currentWidget() is image_tab  # the user sees the live curves there

    window.tabs.setCurrentWidget(runs_tab)
    runs_tab.view.total_spin.setValue(7)
    runs_tab._on_double_click(runs_tab.table.item(0, 1))  # double-click resumes too
    assert calls[-1] == ("resume", str(run.path), 7)
    assert not runs_tab.resume_runner.is_busy()

    window.tabs.setCurrentWidget(runs_tab)
    runs_tab.view.start_last_action.trigger()
    assert calls[-1] == ("start", str(run.path), "last")
    assert window.tabs.currentWidget() is image_tab
    window.tabs.setCurrentWidget(runs_tab)
    runs_tab.view.start_from_button.click()
    assert calls[-1] == ("start", str(run.path), "best")


def test_resume_hands_a_stopped_run_to_the_image_tab_which_finishes_it(qtbot, one_thread):
    from playground.ui.tabs.image_tab import ImageTab

    if not hasattr(ImageTab, "resume_run"):
        pytest.skip("this version's image tab has no resume_run (the Runs tab resumes itself)")
    from playground.core.jobs import run_job
    from playground.vision.train import ImageTrainConfig, make_train_job
    from tests.stopping import StopAtStep

    cfg = ImageTrainConfig(image_size=16, epochs=1, batch_size=256)
    ctx = StopAtStep(3)
    terminal = run_job(make_train_job(cfg, "demo:shapes", name="halfway"), ctx)
    assert isinstance(terminal, ev.Finished) and terminal.stopped, terminal
    run = Run(Path(terminal.result["run_dir"]))
    assert run.status == "stopped"
    steps_before = max(r["step"] for r in run.metrics())

    window = _window(qtbot)
    window.appctx.torch_loaded = True
    image_tab = window.task_tab("image")
    runs_tab = window.tab_widgets["Runs"]
    window.tabs.setCurrentWidget(runs_tab)
    runs_tab.select_runs([run])
    assert runs_tab.table.item(0, STATUS).text() == "stopped"
    with qtbot.waitSignal(image_tab.training.runner.finished, timeout=120_000) as done:
        runs_tab.view.resume_button.click()
        assert window.tabs.currentWidget() is image_tab
    assert isinstance(done.args[0], ev.Finished) and not done.args[0].stopped, done.args[0]
    assert not runs_tab.resume_runner.is_busy()  # the task tab did it, not the Runs tab
    assert run.status == "finished"
    assert max(r["step"] for r in run.metrics()) > steps_before
    window.tabs.setCurrentWidget(runs_tab)
    assert runs_tab.table.item(0, STATUS).text() == "finished"
