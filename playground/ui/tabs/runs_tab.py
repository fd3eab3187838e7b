"""Runs tab: every saved run with its true status, lineage, settings and results; curves of
several runs on one plot; Resume, Start from this run, Export…, Run on a bigger machine…,
delete; Import run folder… copies a run trained elsewhere into the runs (on a worker: a run's
checkpoints can be large) and selects it.

Listing reads only ``run.json`` and ``metrics.jsonl`` (small files), so it needs no worker and
no torch (:mod:`playground.ui.tabs.runs_model` works out what is shown). Resume and Start from
hand over to the task's tab, which shows the live curves, through the main window's
``task_tab()``; when that tab has no ``resume_run`` (or cannot take the new total), the run is
resumed here on this tab's own job runner, with its progress in the status bar.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QPoint, QUrl
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (
    QFileDialog,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.core import events as ev
from playground.core.errors import RunError
from playground.core.runs import INTERRUPTED, Run, RunStore
from playground.ui.appctx import AppContext
from playground.ui.jobs import JobRunner
from playground.ui.tabs.runs_model import (
    INTERRUPTED_TIP,
    RunEntry,
    best_figure,
    fork_offset,
    load_entries,
    metric_keys,
    metric_series,
)
from playground.ui.tabs.runs_view import COLUMNS, Curve, RunsTabView

__all__ = ["COLUMNS", "RunsTab", "best_figure", "metric_series"]

DAMAGED_COLOUR = QColor("#b00020")


def accepts(method: Any, keywords: dict[str, Any]) -> bool:
    """Whether ``method`` can be called with these keyword arguments."""
    if not keywords:
        return True
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return any(p.kind is p.VAR_KEYWORD for p in params.values()) or all(
        k in params for k in keywords)


class RunsTab(QWidget):
    def __init__(self, appctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.appctx = appctx
        self.view = RunsTabView()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        v = self.view
        # the widgets other code and tests reach by their old names
        self.task_combo, self.table, self.details = v.task_combo, v.table, v.details
        self.plot, self.metric_combo = v.plot, v.metric_combo
        self.refresh_button, self.open_button = v.refresh_button, v.open_button
        self.delete_button = v.delete_button
        self.import_button = QPushButton("Import run folder…")
        self.import_button.setToolTip("Copy a run folder trained elsewhere (another machine, "
                                      "torchrun on a cluster) into the runs; the folder itself "
                                      "is left as it is.")
        self._add_to_bar(self.import_button, after=v.delete_button)
        self.entries: list[RunEntry] = []
        self.resume_runner = JobRunner("resume", self)
        appctx.watch(self.resume_runner)
        self.import_runner = JobRunner("import", self)
        appctx.watch(self.import_runner)
        self.export_dialog = None
        self.launch_dialog = None
        self._resuming = ""
        self.view.show_plot_hint()
        self._connect_signals()
        self.refresh()

    def _connect_signals(self) -> None:
        v = self.view
        v.task_combo.currentIndexChanged.connect(self.refresh)
        v.refresh_button.clicked.connect(self.refresh)
        v.open_button.clicked.connect(self.open_folder)
        v.delete_button.clicked.connect(lambda: self.delete_selected())
        v.table.itemSelectionChanged.connect(self._on_selection)
        v.table.itemDoubleClicked.connect(self._on_double_click)
        v.table.customContextMenuRequested.connect(self._context_menu)
        v.metric_combo.currentIndexChanged.connect(self._plot_selected)
        v.align_check.toggled.connect(self._plot_selected)
        v.resume_button.clicked.connect(self.resume_selected)
        v.export_button.clicked.connect(self.export_selected)
        v.start_from_button.clicked.connect(lambda: self.start_from_selected("best"))
        v.start_best_action.triggered.connect(lambda: self.start_from_selected("best"))
        v.start_last_action.triggered.connect(lambda: self.start_from_selected("last"))
        v.parent_button.clicked.connect(self.select_parent)
        v.children_button.clicked.connect(self.select_children)
        self.resume_runner.event.connect(self._on_resume_event)
        self.resume_runner.finished.connect(self._on_resume_finished)
        self.resume_runner.busy_changed.connect(lambda _busy: self._update_actions())
        self.import_button.clicked.connect(lambda: self.import_folder())
        self.import_runner.finished.connect(self._on_import_finished)
        self.import_runner.busy_changed.connect(
            lambda busy: self.import_button.setEnabled(not busy))

    def _add_to_bar(self, widget: QWidget, after: QWidget) -> None:
        """Put ``widget`` in the view's top bar, right after ``after``."""
        layout = self.view.layout()
        for i in range(layout.count()):
            bar = layout.itemAt(i).layout()
            if bar is not None and bar.indexOf(after) >= 0:
                bar.insertWidget(bar.indexOf(after) + 1, widget)
                return
        layout.insertWidget(0, widget)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override: runs may be new
        self.refresh()
        super().showEvent(event)

    # the list ------------------------------------------------------------------------------
    @property
    def runs(self) -> list[Run]:
        return [e.run for e in self.entries]

    def refresh(self) -> None:
        selected = {str(r.path) for r in self.selected_runs()}
        self.entries = load_entries(self.task_combo.currentData())
        self.table.blockSignals(True)
        self.table.clearContents()
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            self._fill_row(row, entry)
        rows = [i for i, e in enumerate(self.entries) if str(e.run.path) in selected]
        if not rows and self.entries:
            rows = [0]  # the newest run, so its details show at once
        self._select_rows(rows)
        self.table.blockSignals(False)
        damaged = [e for e in self.entries if e.damaged]
        self.view.problems_label.setVisible(bool(damaged))
        self.view.problems_label.setText(
            f"{len(damaged)} run folder(s) could not be read (the others are listed): "
            + "; ".join(f"{e.name}: {e.problem}" for e in damaged[:3])
            + (" …" if len(damaged) > 3 else ""))
        self._on_selection()

    def _fill_row(self, row: int, entry: RunEntry) -> None:
        info = entry.info or {}
        status = f"damaged: {entry.problem}" if entry.damaged else entry.status
        values = [entry.task, entry.name, info.get("model", ""), status,
                  best_figure(info), entry.from_text(),
                  str(info.get("created") or "").replace("T", " ")]
        for col, value in enumerate(values):
            item = QTableWidgetItem(str(value))
            if entry.damaged:
                item.setForeground(DAMAGED_COLOUR)
                item.setToolTip(f"{entry.run.path}: {entry.problem}")
            self.table.setItem(row, col, item)
        if entry.status == INTERRUPTED:
            self.table.item(row, COLUMNS.index("Status")).setToolTip(INTERRUPTED_TIP)
        if entry.parent_info:
            self.table.item(row, COLUMNS.index("From")).setToolTip(entry.lineage_text())

    def _select_rows(self, rows: list[int]) -> None:
        model = self.table.selectionModel()
        model.clearSelection()
        flags = (QItemSelectionModel.SelectionFlag.Select
                 | QItemSelectionModel.SelectionFlag.Rows)
        for row in rows:
            model.select(self.table.model().index(row, 0), flags)
        if rows:
            self.table.scrollToItem(self.table.item(rows[0], 0))

    def select_runs(self, runs: list[Run | RunEntry]) -> None:
        """Select these runs in the list (and show and compare them)."""
        paths = {str(r.run.path if isinstance(r, RunEntry) else r.path) for r in runs}
        self._select_rows([i for i, e in enumerate(self.entries) if str(e.run.path) in paths])

    def selected_entries(self) -> list[RunEntry]:
        rows = sorted(i.row() for i in self.table.selectionModel().selectedRows())
        return [self.entries[r] for r in rows if r < len(self.entries)]

    def selected_runs(self) -> list[Run]:
        return [e.run for e in self.selected_entries()]

    def _single(self) -> RunEntry | None:
        entries = self.selected_entries()
        return entries[0] if len(entries) == 1 else None

    # details -------------------------------------------------------------------------------
    def _on_selection(self) -> None:
        entries = self.selected_entries()
        self._update_actions()
        if not entries:
            self.details.clear()
            self.view.lineage_label.clear()
            self.view.show_plot_hint()
            return
        self.details.setPlainText("\n\n".join(e.details_text() for e in entries))
        one = self._single()
        if one is None or one.damaged:
            self.view.lineage_label.setText("")
        else:
            text = one.lineage_text() or "Trained from scratch."
            if one.children:
                text += f" {len(one.children)} run(s) started from it."
            self.view.lineage_label.setText(text[:1].upper() + text[1:])
        current = self.metric_combo.currentText()
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        keys = metric_keys(entries)
        self.metric_combo.addItems(keys)
        if current in keys:
            self.metric_combo.setCurrentText(current)
        self.metric_combo.blockSignals(False)
        self._plot_selected()

    def _update_actions(self) -> None:
        v = self.view
        one = self._single()
        busy = self.resume_runner.is_busy()
        if busy:
            v.resume_button.setText("Stop resuming")
            v.resume_button.setEnabled(True)
            v.resume_button.setToolTip(f"Stop {self._resuming}; it can be resumed again.")
        else:
            ok, why = one.can_resume() if one else (False, "Select one run to resume it.")
            v.resume_button.setText("Resume")
            v.resume_button.setEnabled(ok)
            v.resume_button.setToolTip(why)
        kind = self._total_kind(one) if one and not one.damaged else ""
        v.total_spin.setEnabled(not busy and v.resume_button.isEnabled())
        v.total_spin.setSuffix(f" {kind}" if kind else "")
        config = (one.info or {}).get("config") if one else None
        now = config.get("max_iters" if kind == "iterations" else "epochs") if isinstance(
            config, dict) else None
        v.total_label.setText(f"new total (now {now}):" if isinstance(now, int) else
                              "new total:")
        v.start_from_button.setEnabled(bool(one and one.has_weights()))
        v.export_button.setEnabled(bool(one and one.has_weights()))
        v.parent_button.setEnabled(bool(one and one.parent_info))
        v.children_button.setEnabled(bool(one and one.children))
        v.children_button.setText(f"Children ({len(one.children)})" if one and one.children
                                  else "Children")

    @staticmethod
    def _total_kind(entry: RunEntry) -> str:
        from playground.resume import total_kind

        return total_kind(entry.task)

    # compare plot --------------------------------------------------------------------------
    def _plot_selected(self) -> None:
        key = self.metric_combo.currentText()
        if not key:
            self.view.show_plot_hint("These runs have no logged metrics yet.")
            return
        curves, axis_name = [], ""
        align = self.view.align_check.isChecked()
        for i, entry in enumerate(self.selected_entries()):
            if entry.damaged:
                continue
            xs, ys, axis = metric_series(entry, key)
            if not xs:
                continue
            axis_name = axis
            offset = fork_offset(entry, axis) if align else 0.0
            name = entry.name + (f" (fork, from {axis} {offset:g})" if offset else "")
            curves.append(Curve([x + offset for x in xs], ys, name, i, dashed=bool(offset)))
        self.view.draw_curves(curves, axis_name, key)

    # lineage -------------------------------------------------------------------------------
    def select_parent(self) -> None:
        one = self._single()
        if one is None or not one.parent_info:
            return
        if one.parent is None:
            self.appctx.warn(f"{one.name} was started from {one.parent_info['run']}, which is "
                             "not listed here (deleted, moved, or another task is shown).")
            return
        self.select_runs([one.parent])

    def select_children(self) -> None:
        one = self._single()
        if one is not None and one.children:
            self.select_runs(one.children)

    def compare_with_parent(self) -> None:
        one = self._single()
        if one is not None and one.parent is not None:
            self.select_runs([one.parent, one])

    # resume and start from -----------------------------------------------------------------
    def _window_call(self, task: str, *, show: bool = False) -> QWidget | None:
        """The main window's tab for ``task`` (None outside a main window or if it has none)."""
        window = self.window()
        finder = getattr(window, "task_tab", None) if window is not self else None
        return finder(task, show=show) if finder is not None else None

    def resume_selected(self) -> None:
        """Resume the selected run: in its task's tab when that tab can, else here."""
        if self.resume_runner.is_busy():
            self.resume_runner.cancel()
            self.appctx.info(f"Stopping {self._resuming}…")
            return
        one = self._single()
        if one is None:
            self.appctx.info("Select one run to resume it.")
            return
        ok, why = one.can_resume()
        if not ok:
            self.appctx.info(why)
            return
        kind = self._total_kind(one)
        total = self.view.total_spin.value() or None
        if total is None and one.status == "finished":
            self.appctx.info(f"{one.name} has trained all its {kind}: set a larger new total "
                             "to train it further, then press Resume.")
            self.view.total_spin.setFocus()
            return
        own = {} if total is None else {"max_iters" if kind == "iterations" else "epochs": total}
        handler = getattr(self._window_call(one.task), "resume_run", None)
        if handler is not None:  # the task tab, with its live curves, takes a total as either
            for keywords in (own, {"total": total} if total else own):
                if accepts(handler, keywords):
                    self._window_call(one.task, show=True)
                    handler(str(one.run.path), **keywords)
                    return
        self._resume_here(one, own)

    def _resume_here(self, entry: RunEntry, keywords: dict[str, int]) -> None:
        run_dir = str(entry.run.path)

        def job(ctx):
            from playground.resume import make_resume_job

            return make_resume_job(run_dir, **keywords)(ctx)

        if self.resume_runner.start(job, self.appctx.device):
            self._resuming = entry.name
            self.appctx.info(f"Resuming {entry.name} (progress in the status bar)…")

    def _on_resume_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self.refresh()  # its status is "training" now

    def _on_resume_finished(self, event: ev.Event) -> None:
        self.appctx.report_terminal(event, f"Resuming {self._resuming}")
        self.refresh()

    def start_from_selected(self, checkpoint: str = "best") -> None:
        """Hand the selected run to its task's tab as the start of a new run."""
        one = self._single()
        if one is None or not one.has_weights():
            self.appctx.info("Select one run with a checkpoint to start a new run from it.")
            return
        handler = getattr(self._window_call(one.task), "start_from_run", None)
        if handler is None:
            self.appctx.warn(f"This version's {one.task} tab cannot start from a run; on the "
                             f"command line: playground train {one.task} --init-from "
                             f"{one.run.path}:{checkpoint}")
            return
        self._window_call(one.task, show=True)
        handler(str(one.run.path), checkpoint)

    def export_selected(self):
        """Open the Export… dialog for the selected run (returned, for tests)."""
        from playground.ui.export_dialog import open_export_dialog

        one = self._single()
        if one is None or not one.has_weights():
            self.appctx.info("Select one run with a checkpoint to export it.")
            return None
        self.export_dialog = open_export_dialog(one.run.path, self)
        return self.export_dialog

    def launch_selected(self):
        """Open "Run on a bigger machine…" for the selected run (returned, for tests)."""
        from playground.ui.launch_dialog import open_launch_dialog

        one = self._single()
        if one is None or one.damaged:
            self.appctx.info("Select one run to train it on a bigger machine.")
            return None
        self.launch_dialog = open_launch_dialog(one.run.path, self)
        return self.launch_dialog

    # import --------------------------------------------------------------------------------
    def import_folder(self, folder: str | Path | None = None) -> bool:
        """Import a run folder (asked for with a folder picker when not given) on the import
        runner; the list then shows and selects it. False when nothing was started."""
        if self.import_runner.is_busy():
            self.appctx.info("A run folder is being imported; wait for it to finish.")
            return False
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Import run folder",
                                                      str(Path.home()))
            if not folder:
                return False
        source = str(folder)

        def job(ctx):
            from playground.core.runs import import_run

            ctx.emit(ev.Log(f"importing {source}"))
            return str(import_run(source).path)

        started = self.import_runner.start(job, "cpu")
        if started:
            self.appctx.info(f"Importing {Path(source).name}…")
        return started

    def _on_import_finished(self, event: ev.Event) -> None:
        if isinstance(event, ev.Failed):
            self.appctx.error(event.message, event.details)
            return
        if not isinstance(event, ev.Finished) or event.stopped or not event.result:
            return
        run = Run(Path(str(event.result)))
        try:
            task = run.task
        except RunError:
            task = None
        if self.task_combo.currentData() not in (None, task):
            self.task_combo.setCurrentIndex(0)  # "All": the filter would hide it
        self.refresh()
        self.select_runs([run])
        self.appctx.info(f"Imported {run.name} into the {task} runs.")

    def _on_double_click(self, item: QTableWidgetItem) -> None:
        if 0 <= item.row() < len(self.entries):
            self._select_rows([item.row()])
            self.resume_selected()

    def _context_menu(self, pos: QPoint) -> None:
        row = self.table.rowAt(pos.y())
        if row < 0:
            return
        if row not in {i.row() for i in self.table.selectionModel().selectedRows()}:
            self._select_rows([row])
        menu = self.context_menu()
        menu.exec(self.table.viewport().mapToGlobal(pos))

    def context_menu(self) -> QMenu:
        """The menu of the selected run(s) (also what a right-click shows)."""
        one = self._single()
        menu = QMenu(self)
        resume = menu.addAction("Resume", self.resume_selected)
        resume.setEnabled(self.view.resume_button.isEnabled()
                          and not self.resume_runner.is_busy())
        for checkpoint in ("best", "last"):
            action = menu.addAction(f"Start from this run ({checkpoint} checkpoint)…",
                                    lambda c=checkpoint: self.start_from_selected(c))
            action.setEnabled(bool(one and one.has_weights()))
        launch = menu.addAction("Run on a bigger machine…", self.launch_selected)
        launch.setEnabled(bool(one and not one.damaged))
        menu.addSeparator()
        parent = menu.addAction("Select parent", self.select_parent)
        parent.setEnabled(bool(one and one.parent_info))
        compare = menu.addAction("Compare with parent", self.compare_with_parent)
        compare.setEnabled(bool(one and one.parent))
        children = menu.addAction(f"Select children ({len(one.children) if one else 0})",
                                  self.select_children)
        children.setEnabled(bool(one and one.children))
        menu.addSeparator()
        menu.addAction("Open folder", self.open_folder)
        menu.addAction("Delete…", lambda: self.delete_selected())
        return menu

    def open_folder(self) -> None:
        for run in self.selected_runs()[:1]:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(run.path)))

    def delete_selected(self, confirm: bool = True) -> None:
        entries = self.selected_entries()
        if not entries:
            self.appctx.info("Select the runs to delete first.")
            return
        if confirm:
            names = "\n".join(e.name for e in entries[:10])
            gone = {id(e) for e in entries}
            forks = [c for e in entries for c in e.children if id(c) not in gone]
            note = (f"\n\n{len(forks)} other run(s) were started from these; they keep their "
                    "own weights." if forks else "")
            answer = QMessageBox.question(
                self, "Delete runs", f"Delete {len(entries)} run(s) and their checkpoints?\n\n"
                f"{names}{note}", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return
        store = RunStore()
        deleted = 0
        for entry in entries:
            try:
                store.delete(entry.run)
                deleted += 1
            except (RunError, OSError) as exc:
                self.appctx.error(f"Could not delete {entry.run.path}: {exc}")
        if deleted:
            self.appctx.info(f"Deleted {deleted} run(s).")
        self.refresh()



