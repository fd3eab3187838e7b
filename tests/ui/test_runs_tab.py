"""The Runs tab lists saved runs, compares their curves and deletes what the user picks."""

from __future__ import annotations

from playground.core.runs import RunStore
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
    run = _make_run(store, "ok", [0.5])
    (run.path / "run.json").write_text("{not json")
    tab = RunsTab(AppContext())
    qtbot.addWidget(tab)
    assert tab.table.rowCount() == 1
    assert "damaged" in tab.table.item(0, 3).text()
    tab.table.selectRow(0)  # selecting it shows the problem instead of crashing
    assert "damaged" in tab.details.toPlainText()


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
