"""The Runs tab lists saved runs, compares their curves and deletes what the user picks."""

from __future__ import annotations

from playground.core.runs import RunStore, this_host
from playground.ui.appctx import AppContext
from playground.ui.tabs.runs_tab import RunsTab


def _make_run(store: RunStore, name: str, accs: list[float]):
    run = store.create("image", name, model="small_cnn", config={"epochs": len(accs)})
    for epoch, acc in enumerate(accs, 1):
        run.log_metrics(epoch=epoch, val_accuracy=acc, val_loss=1 - acc)
    run.set_status("finished", result={"best_val_accuracy": max(accs)})
    return run


def test_lists_compares_and_deletes(qtbot):
    store = RunStore()
    a = _make_run(store, "first", [0.5, 0.7, 0.9])
    b = _make_run(store, "second", [0.4, 0.6])
    tab = RunsTab(AppContext())
    qtbot.addWidget(tab)
    assert tab.table.rowCount() == 2
    names = {tab.table.item(r, 1).text() for r in range(2)}
    assert names == {a.name, b.name}
    best = {tab.table.item(r, 1).text(): tab.table.item(r, 4).text() for r in range(2)}
    assert best[a.name] == "acc 90.0%"

    tab.table.selectAll()
    assert tab.metric_combo.findText("val_accuracy") >= 0
    tab.metric_combo.setCurrentText("val_accuracy")
    curves = tab.plot.getPlotItem().listDataItems()
    assert len(curves) == 2
    ys = sorted(tuple(c.yData) for c in curves)
    assert ys == [(0.4, 0.6), (0.5, 0.7, 0.9)]
    assert "small_cnn" in tab.details.toPlainText()

    tab.table.clearSelection()
    row = [r for r in range(2) if tab.table.item(r, 1).text() == b.name][0]
    tab.table.selectRow(row)
    tab.delete_selected(confirm=False)
    assert not b.path.exists() and a.path.exists()
    assert tab.table.rowCount() == 1


def test_damaged_run_is_listed_not_fatal(qtbot):
    store = RunStore()
    good = _make_run(store, "good", [0.5])
    run = _make_run(store, "broken", [0.5])
    (run.path / "run.json").write_text("{not json")
    other = _make_run(store, "odd", [0.5])
    (other.path / "run.json").write_text('{"task": "image", "status": 7}')
    tab = RunsTab(AppContext())
    qtbot.addWidget(tab)
    assert tab.table.rowCount() == 3  # the damaged ones named among the others
    rows = {tab.table.item(r, 1).text(): r for r in range(3)}
    assert tab.table.item(rows[good.name], 3).text() == "finished"
    for damaged in (run, other):
        assert tab.table.item(rows[damaged.name], 3).text().startswith("damaged: ")
        assert damaged.name in tab.view.problems_label.text()
    assert "run.json" in tab.table.item(rows[run.name], 3).toolTip()
    assert not tab.view.problems_label.isHidden()
    assert "2 run folder(s) could not be read" in tab.view.problems_label.text()
    tab.table.selectRow(rows[run.name])  # selecting it shows the problem instead of crashing
    assert "damaged" in tab.details.toPlainText()
    assert not tab.view.resume_button.isEnabled()
    assert not tab.view.start_from_button.isEnabled()
    assert "cannot be read" in tab.view.resume_button.toolTip()
    tab.table.selectAll()  # comparing with a damaged run draws the others
    tab.metric_combo.setCurrentText("val_accuracy")
    assert len(tab.plot.getPlotItem().listDataItems()) == 1


def test_interrupted_run_reads_interrupted_and_can_be_resumed(qtbot):
    store = RunStore()
    run = store.create("image", "killed", model="small_cnn", config={"epochs": 4})
    run.log_metrics(step=1, train_loss=1.2)
    for name in ("last.safetensors", "optimizer.pt"):
        (run.checkpoints / name).write_bytes(b"x")
    run.set_status("training", pid=2**22 + 12345, host=this_host())  # a process that is gone
    fresh = store.create("image", "no-checkpoint", model="small_cnn", config={"epochs": 4})
    fresh.set_status("stopped")
    tab = RunsTab(AppContext())
    qtbot.addWidget(tab)
    row = [e.run.path for e in tab.entries].index(run.path)
    status = tab.table.item(row, 3)
    assert status.text() == "interrupted"
    assert "process is gone" in status.toolTip()
    tab.select_runs([run])
    assert tab.view.resume_button.isEnabled()
    assert tab.view.total_spin.isEnabled() and tab.view.total_spin.suffix() == " epochs"
    assert tab.view.total_label.text() == "new total (now 4):"
    assert "status: interrupted" in tab.details.toPlainText()
    menu = tab.context_menu()
    actions = {a.text(): a.isEnabled() for a in menu.actions() if a.text()}
    assert actions["Resume"] and actions["Start from this run (last checkpoint)…"]
    assert not actions["Select parent"] and not actions["Select children (0)"]
    tab.select_runs([fresh])  # stopped before its first checkpoint: nothing to resume
    assert not tab.view.resume_button.isEnabled()
    assert "no resumable checkpoint" in tab.view.resume_button.toolTip()
    assert not tab.view.start_from_button.isEnabled()


def test_start_from_without_a_task_tab_says_how(qtbot):
    store = RunStore()
    run = _make_run(store, "done", [0.5, 0.6])
    (run.checkpoints / "best.safetensors").write_bytes(b"x")
    appctx = AppContext()
    notices = []
    appctx.notice.connect(lambda level, message, details: notices.append((level, message)))
    tab = RunsTab(appctx)
    qtbot.addWidget(tab)
    tab.select_runs([run])
    tab.view.start_from_button.click()
    level, message = notices[-1]
    assert level == "warning" and f"--init-from {run.path}:best" in message


def test_newest_run_is_shown_and_an_empty_plot_says_what_to_do(qtbot):
    tab = RunsTab(AppContext())
    qtbot.addWidget(tab)
    assert tab.table.rowCount() == 0
    assert "Select runs" in tab.plot.getPlotItem().titleLabel.text
    assert not tab.plot.getPlotItem().getAxis("left").isVisible()
    store = RunStore()
    _make_run(store, "older", [0.5])
    _make_run(store, "newest", [0.6, 0.8])
    tab.refresh()
    first = tab.runs[0]  # the list is newest first (same-second runs: by name)
    assert [r.path for r in tab.selected_runs()] == [first.path]
    assert first.name in tab.details.toPlainText()
    assert tab.plot.getPlotItem().listDataItems()  # its curve, with axes back
    assert tab.plot.getPlotItem().getAxis("left").isVisible()
