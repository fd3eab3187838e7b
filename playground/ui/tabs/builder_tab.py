"""Builder tab: compose a network from blocks, see every shape live, send it to a tab to train.

The network is a :class:`~playground.builder.graph.Graph` (Qt-free, ``playground.builder``);
this tab is its view and controller. Every edit (add, delete, connect, disconnect, move,
parameter, rename, fix, paste, auto-layout, template, import, open) is one
:class:`GraphEdit` on the tab's ``QUndoStack``: the edit runs on a copy of the graph, and
undo/redo swap whole graph states (a copy is cheap next to shape inference), so every edit
kind undoes the same way. After each change, :func:`~playground.builder.shapes.infer` runs
with the tab's :class:`~playground.builder.shapes.ShapeCache` (only blocks whose inputs changed
run again on meta tensors) and the canvas updates only the items that changed.

Shape inference needs torch; until the app has loaded it the canvas shows the blocks and says
shapes will follow (the window never waits for torch).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QMenu,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from playground.builder import blocks as B
from playground.builder import templates
from playground.builder.graph import Graph, auto_layout
from playground.core.errors import PlaygroundError
from playground.ui.appctx import AppContext
from playground.ui.jobs import JobRunner
from playground.ui.tabs import builder_actions as actions
from playground.ui.tabs.builder_canvas import BuilderScene, shape_text
from playground.ui.tabs.builder_panel import Palette, ProblemList, PropertyPanel
from playground.ui.tabs.builder_view import BuilderView

log = logging.getLogger(__name__)

LAYOUT_DX, LAYOUT_DY = 272.0, 120.0      # auto-layout spacing: room for the edge labels
TRAIN_TASKS = (("image", "Image recognition", "image"), ("keywords", "Keyword speech", "speech"),
               ("text", "Text generation", "text"))


class GraphEdit(QUndoCommand):
    """One edit: the graph before and after (neither is changed afterwards)."""

    def __init__(self, tab: BuilderTab, text: str, before: Graph, after: Graph,
                 select_before: list[str], select_after: list[str]) -> None:
        super().__init__(text)
        self.tab, self.before, self.after = tab, before, after
        self.select_before, self.select_after = select_before, select_after

    def redo(self) -> None:
        self.tab._set_graph(self.after, self.select_after)

    def undo(self) -> None:
        self.tab._set_graph(self.before, self.select_before)


class BuilderTab(QWidget):
    """The Builder tab. ``train_requested(task, model)`` asks the window to show ``task``'s
    tab (image / speech / text) with the registered graph ``model`` chosen."""

    train_requested = Signal(str, str)

    def __init__(self, appctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.appctx = appctx
        self.graph = Graph("network")
        self.graph.add("Input", "input", (0.0, 0.0), shape=(1, 28, 28))
        self.weights: str | None = None        # weights file of an imported/opened graph
        self.report: Any = None
        self.cache = None                      # ShapeCache, made when torch is there
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(200)
        self.import_runner = JobRunner("import", self)
        appctx.watch(self.import_runner)
        self._clipboard: dict[str, Any] | None = None
        self._paste_count = 0
        self._build_view()
        self._connect_signals()
        self.refresh()
        self.appctx.torch_ready.connect(self.refresh)

    # view -----------------------------------------------------------------------------------
    def _build_view(self) -> None:
        self.scene = BuilderScene(self)
        self.canvas = BuilderView(self.scene)
        self.palette = Palette()
        self.panel = PropertyPanel()
        self.problems = ProblemList()
        self.summary = QLabel()
        self.summary.setStyleSheet("font-weight: 600; padding: 3px 6px;")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("padding: 0 6px;")
        self.toolbar = QToolBar("Builder")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self._build_actions()

        palette_box = QWidget()
        pl = QVBoxLayout(palette_box)
        pl.setContentsMargins(0, 0, 0, 0)
        title = QLabel("<b>Blocks</b> — drag onto the canvas")
        title.setStyleSheet("padding: 4px;")
        pl.addWidget(title)
        pl.addWidget(self.palette)
        centre = QSplitter(Qt.Orientation.Vertical)
        canvas_box = QWidget()
        cl = QVBoxLayout(canvas_box)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(2)
        cl.addWidget(self.canvas, 1)
        cl.addWidget(self.summary)
        cl.addWidget(self.message)
        centre.addWidget(canvas_box)
        centre.addWidget(self.problems)
        centre.setStretchFactor(0, 5)
        centre.setStretchFactor(1, 1)
        centre.setSizes([760, 90])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(palette_box)
        split.addWidget(centre)
        split.addWidget(self.panel)
        split.setStretchFactor(1, 1)
        split.setSizes([260, 900, 320])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(split, 1)

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(tip or text)
        action.triggered.connect(lambda _=False: slot())
        self.addAction(action)
        return action

    def _menu_button(self, text: str, menu: QMenu, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setMenu(menu)
        button.setToolTip(tip)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.toolbar.addWidget(button)
        return button

    def _build_actions(self) -> None:
        bar = self.toolbar
        self.undo_action = self._action("Undo", self.undo_stack.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action("Redo", self.undo_stack.redo, "Ctrl+Shift+Z")
        self.delete_action = self._action("Delete", self.delete_selected,
                                          QKeySequence.StandardKey.Delete,
                                          "Delete the selected blocks and connections (Del)")
        self.copy_action = self._action("Copy", self.copy_selected, QKeySequence.StandardKey.Copy)
        self.paste_action = self._action("Paste", self.paste, QKeySequence.StandardKey.Paste)
        self.select_all_action = self._action("Select all", self.select_all,
                                              QKeySequence.StandardKey.SelectAll)
        self.edit_menu = QMenu("Edit", self)
        for a in (self.undo_action, self.redo_action, None, self.copy_action, self.paste_action,
                  self.delete_action, None, self.select_all_action):
            self.edit_menu.addSeparator() if a is None else self.edit_menu.addAction(a)
        self._menu_button("Edit", self.edit_menu, "Undo, redo, copy, paste, delete")
        bar.addAction(self.undo_action)
        bar.addAction(self.redo_action)
        bar.addSeparator()
        self.layout_action = self._action("Auto-layout", self.auto_layout, "Ctrl+L",
                                          "Arrange the blocks in columns, inputs on the left")
        self.fit_action = self._action("Fit view", self.canvas.fit, "Ctrl+0",
                                       "Zoom to show every block")
        for a in (self.layout_action, self.fit_action):
            bar.addAction(a)
        bar.addSeparator()
        self.templates_menu = QMenu("Templates", self)
        for name in templates.names():
            t = templates.get(name)
            action = self.templates_menu.addAction(t.title)
            action.setToolTip(t.description)
            action.setData(name)
            action.triggered.connect(lambda _=False, n=name: self.load_template(n))
        self.templates_menu.setToolTipsVisible(True)
        self._menu_button("Templates", self.templates_menu, "Start from a teaching example")
        self.file_menu = QMenu("File", self)
        self.file_menu.addAction("Open graph…", lambda: self.open_graph())
        self.file_menu.addAction("Save graph…", lambda: self.save_graph())
        self.file_menu.addSeparator()
        self.file_menu.addAction("Import model…", lambda: self.import_model())
        self.file_menu.addAction("Export PyTorch source…", lambda: self.export_python())
        self._menu_button("File", self.file_menu, "Open, save, import, export")
        self.import_action = self._action("Import model…", lambda: self.import_model(),
                                          tip="A registry model or an nn.Module from a Python "
                                              "file, traced with torch.fx in its own process")
        bar.addAction(self.import_action)
        bar.addSeparator()
        bar.addWidget(QLabel(" Input shape: "))
        self.input_edit = QLineEdit()
        self.input_edit.setMaximumWidth(120)
        self.input_edit.setToolTip("The Input block's shape without the batch: C,H,W for images, "
                                   "T,F for sequences, T for token ids.")
        bar.addWidget(self.input_edit)
        bar.addSeparator()
        self.train_menu = QMenu("Train in", self)
        for task, title, _ in TRAIN_TASKS:
            action = self.train_menu.addAction(title + "…")
            action.triggered.connect(lambda _=False, t=task: self.train_in(t))
        self.train_button = self._menu_button("Train in ▸", self.train_menu,
                                              "Send the network to a tab as a model and train "
                                              "it there")

    def _connect_signals(self) -> None:
        s = self.scene
        s.connect_requested.connect(self.connect_blocks)
        s.reconnect_requested.connect(self.reconnect)
        s.nodes_moved.connect(self.move_blocks)
        s.block_dropped.connect(self.add_block)
        s.selectionChanged.connect(self._show_selection)
        self.palette.add_requested.connect(lambda t: self.add_block(t))
        self.panel.param_changed.connect(self.set_param)
        self.panel.rename_requested.connect(self.rename_block)
        self.panel.fix_requested.connect(self.apply_fix)
        self.problems.node_clicked.connect(self.focus_block)
        self.canvas.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.canvas.customContextMenuRequested.connect(self._canvas_menu)
        self.input_edit.editingFinished.connect(self._on_input_shape)
        self.import_runner.finished.connect(self._on_import_finished)
        self.undo_stack.canUndoChanged.connect(self.undo_action.setEnabled)
        self.undo_stack.canRedoChanged.connect(self.redo_action.setEnabled)
        self.undo_action.setEnabled(False)
        self.redo_action.setEnabled(False)

    # the one way the graph changes ------------------------------------------------------------
    def edit(self, text: str, change, select: list[str] | None = None) -> bool:
        """Run ``change(graph_copy)`` (which may return a whole new Graph) and push it as one
        undoable edit; a refused change shows its sentence and changes nothing."""
        work = self.graph.copy()
        try:
            result = change(work)
        except PlaygroundError as exc:
            self.say(str(exc), "error")
            return False
        if isinstance(result, Graph):
            work = result
        before_sel = self.scene.selected_ids()
        self.undo_stack.push(GraphEdit(self, text, self.graph, work, before_sel,
                                       select if select is not None else
                                       [i for i in before_sel if i in work.nodes]))
        return True

    def _set_graph(self, graph: Graph, select: list[str]) -> None:
        self.graph = graph
        self.refresh(select)

    def refresh(self, select: list[str] | None = None) -> None:
        """Infer shapes (once torch is loaded) and update the canvas, panel and problems."""
        self.report = None
        if self.appctx.torch_loaded:     # never import torch on the UI thread at start-up
            from playground.builder.shapes import ShapeCache, infer

            if self.cache is None:
                self.cache = ShapeCache()
            try:
                self.report = infer(self.graph, cache=self.cache)
            except Exception as exc:  # noqa: BLE001 - shown in one sentence, logged in full
                log.exception("shape inference failed")
                self.say(f"Shapes could not be worked out: {exc}", "error")
        self.scene.sync(self.graph, self.report)
        if select is not None:
            self.scene.blockSignals(True)
            self.scene.select(select)
            self.scene.blockSignals(False)
        self._show_summary()
        self._show_selection()
        ids = self.graph.input_ids()
        if ids and not self.input_edit.hasFocus():
            self.input_edit.setText(",".join(map(str, self.graph.nodes[ids[0]].params["shape"])))

    def _show_summary(self) -> None:
        r, n = self.report, len(self.graph)
        if r is None:
            self.summary.setText(f"{n} blocks · shapes appear once PyTorch has loaded…")
            self.problems.show_problems([])
            return
        from playground.builder.shapes import format_bytes

        errors = len(r.errors)
        out = f" · output {shape_text(r.output_shape)}" if r.output_shape is not None else ""
        state = (f" · <span style='color:#c62828'>{errors} error{'s' * (errors != 1)}</span>"
                 if errors else "")
        self.summary.setText(f"{n} blocks · {r.total_params:,} parameters · activations "
                             f"{format_bytes(r.activation_bytes)} per sample{out}{state}"
                             + (" (blocks after an error not counted)" if errors else ""))
        self.problems.show_problems(r.problems)

    def _show_selection(self) -> None:
        ids = self.scene.selected_ids()
        if len(ids) != 1 or ids[0] not in self.graph.nodes:
            self.panel.show_node(None, selected=len(ids))
            return
        nid = ids[0]
        info = self.report.blocks.get(nid) if self.report is not None else None
        problem = None
        if self.report is not None:
            mine = [p for p in self.report.problems if p.node == nid]
            problem = next((p for p in mine if p.severity == "error"), mine[0] if mine else None)
        self.panel.show_node(self.graph.nodes[nid], info, problem)

    def say(self, text: str, level: str = "info") -> None:
        """One sentence under the canvas (and in the status bar for errors)."""
        colour = {"error": "#c62828", "warning": "#8d6e00"}.get(level, "#37474f")
        self.message.setStyleSheet(f"padding: 0 6px; color: {colour};")
        self.message.setText(text)
        if level == "error":
            self.appctx.error(text)
        elif level == "warning":
            self.appctx.warn(text)

    def _canvas_menu(self, pos) -> None:
        menu = QMenu(self)
        for a in (self.copy_action, self.paste_action, self.delete_action, None,
                  self.select_all_action, self.layout_action, self.fit_action):
            menu.addSeparator() if a is None else menu.addAction(a)
        add = menu.addMenu("Add block")
        at = self.canvas.mapToScene(pos)
        for group, blocks in B.by_group().items():
            sub = add.addMenu(group)
            for block in blocks:
                sub.addAction(block.name, lambda b=block.name: self.add_block(b, at))
        menu.popup(self.canvas.viewport().mapToGlobal(pos))

    # edits ------------------------------------------------------------------------------------
    def add_block(self, block_type: str, pos: QPointF | None = None) -> str | None:
        try:
            B.get(block_type)
        except PlaygroundError as exc:
            self.say(str(exc), "error")
            return None
        if pos is None:
            pos = self.canvas.mapToScene(self.canvas.viewport().rect().center())
        new_id = self.graph.new_id(_prefix(block_type))
        xy = (round(pos.x() - 90, 1), round(pos.y() - 30, 1))
        ok = self.edit(f"Add {block_type}", lambda g: g.add(block_type, new_id, xy), [new_id])
        return new_id if ok else None

    def connect_blocks(self, source: str, target: str, port: int = 0) -> bool:
        def change(g: Graph) -> None:
            old = g.input_edges(target)[port] if port < g.node(target).num_inputs else None
            if old is not None:
                g.disconnect(old)           # dropping on a used input replaces its connection
            g.connect(source, target, port)
        ok = self.edit(f"Connect {source} → {target}", change)
        if ok and self.graph.would_loop(target, source):
            self.say(f"Connecting {source} to {target} closes a loop; see the problems below.",
                     "warning")
        return ok

    def reconnect(self, edge, target) -> bool:
        """A connection picked up at its input: moved to ``target`` (source, block, port),
        or removed when dropped on empty canvas (None)."""
        if target is None:
            return self.edit(f"Disconnect {edge.source} → {edge.target}",
                             lambda g: g.disconnect(edge))
        source, block, port = target

        def change(g: Graph) -> None:
            g.disconnect(edge)
            old = g.input_edges(block)[port] if port < g.node(block).num_inputs else None
            if old is not None:
                g.disconnect(old)
            g.connect(source, block, port)
        return self.edit(f"Reconnect {source} → {block}", change)

    def disconnect(self, edges) -> bool:
        edges = list(edges)
        return self.edit("Disconnect", lambda g: [g.disconnect(e) for e in edges])

    def move_blocks(self, moved: dict) -> bool:
        return self.edit("Move" if len(moved) > 1 else f"Move {next(iter(moved))}",
                         lambda g: [g.move(nid, xy) for nid, xy in moved.items()])

    def set_param(self, node_id: str, name: str, value: Any) -> bool:
        node = self.graph.nodes.get(node_id)
        if node is not None and name in node.params:
            try:
                if node.block.param(name).parse(value) == node.params[name]:
                    return True               # the same value again: no edit, no undo step
            except PlaygroundError:
                pass                          # refused below, with its sentence

        def change(g: Graph) -> None:
            g.set_param(node_id, name, value)
        work_ok = self.edit(f"Set {name} of {node_id}", change)
        if not work_ok:
            self.panel.show_error(name, self.message.text())
        return work_ok

    def rename_block(self, old: str, new: str) -> bool:
        ok = self.edit(f"Rename {old} to {new}", lambda g: g.rename(old, new), [new])
        if not ok:
            self.panel.show_rename_error(self.message.text())
        return ok

    def apply_fix(self, problem: Any) -> bool:
        if problem is None:
            return False
        ok = self.edit("Fix: " + (problem.fix_text or "apply the fix"),
                       lambda g: g.apply_fix(problem))
        if ok:
            self.say(f"Fixed: {problem.fix_text or 'applied the fix'}.")
        return ok

    def delete_selected(self) -> bool:
        ids, edges = self.scene.selected_ids(), self.scene.selected_edges()
        if not ids and not edges:
            return False

        def change(g: Graph) -> None:
            for e in edges:
                if e in g.edges:
                    g.disconnect(e)
            for nid in ids:
                g.remove(nid)
        what = f"Delete {len(ids)} block{'s' * (len(ids) != 1)}" if ids else "Disconnect"
        return self.edit(what, change, [])

    def select_all(self) -> None:
        self.scene.select(self.graph.nodes)

    def copy_selected(self) -> bool:
        ids = self.scene.selected_ids()
        if not ids:
            return False
        self._clipboard = self.graph.fragment(ids)
        self._paste_count = 0
        actions.put_on_clipboard(self._clipboard)
        self.say(f"Copied {len(ids)} block{'s' * (len(ids) != 1)}.")
        return True

    def paste(self) -> bool:
        fragment = actions.take_from_clipboard() or self._clipboard
        if not fragment:
            self.say("Nothing to paste: copy blocks first (Ctrl+C).", "warning")
            return False
        self._paste_count += 1
        offset = (40.0 * self._paste_count, 40.0 * self._paste_count)
        mapping: dict[str, str] = {}

        def change(g: Graph) -> None:
            mapping.update(g.paste(fragment, offset))
        work = self.graph.copy()
        try:
            change(work)
        except PlaygroundError as exc:
            self.say(f"Could not paste: {exc}", "error")
            return False
        return self.edit(f"Paste {len(mapping)} blocks", lambda g: work, list(mapping.values()))

    def auto_layout(self) -> bool:
        ok = self.edit("Auto-layout", lambda g: layout_graph(g))
        self.canvas.fit()
        return ok

    def load_template(self, name: str) -> bool:
        def change(_g: Graph) -> Graph:
            graph = templates.build(name)
            layout_graph(graph)
            return graph
        ok = self.edit(f"Template {templates.get(name).title}", change, [])
        if ok:
            self.weights = None
            self.canvas.fit()
            self.say(f"Loaded the {templates.get(name).title} template: "
                     f"{templates.get(name).description}")
        return ok

    def replace_graph(self, graph: Graph, text: str, weights: str | None = None) -> bool:
        """Put a whole graph on the canvas (open, import) as one undoable edit."""
        if not any(n.position != (0.0, 0.0) for n in list(graph.nodes.values())[1:]):
            layout_graph(graph)
        ok = self.edit(text, lambda _g: graph, [])
        if ok:
            self.weights = weights
            self.canvas.fit()
        return ok

    def _on_input_shape(self) -> None:
        ids = self.graph.input_ids()
        if not ids:
            self.say("There is no Input block: add one from the palette first.", "warning")
            return
        text = self.input_edit.text().strip()
        current = ",".join(map(str, self.graph.nodes[ids[0]].params["shape"]))
        if text.replace(" ", "") == current:
            return
        from playground.builder.shapes import parse_shape

        try:
            shape = parse_shape(text)
        except PlaygroundError as exc:
            self.say(str(exc), "error")
            return
        self.set_param(ids[0], "shape", shape)

    def focus_block(self, node_id: str) -> None:
        item = self.scene.nodes.get(node_id)
        if item is None:
            return
        self.scene.select([node_id])
        self.canvas.centerOn(item)

    # files, import, training (builder_actions) ------------------------------------------------
    def open_graph(self, path: str | None = None) -> bool:
        return actions.open_graph(self, path)

    def save_graph(self, path: str | None = None) -> bool:
        return actions.save_graph(self, path)

    def export_python(self, path: str | None = None) -> bool:
        return actions.export_python(self, path)

    def import_model(self, spec: str | None = None, input_shape: str = "") -> bool:
        return actions.start_import(self, spec, input_shape)

    def _on_import_finished(self, event) -> None:
        actions.finish_import(self, event)

    def train_in(self, task: str) -> str | None:
        return actions.train_in(self, task)

    def shutdown(self) -> None:
        self.import_runner.shutdown()


def layout_graph(graph: Graph, wrap: int = 4) -> None:
    """The core's auto-layout (columns by distance from the Input), with a long chain folded
    into bands of ``wrap`` columns so the whole network fits a screen at a readable size."""
    auto_layout(graph, LAYOUT_DX, LAYOUT_DY)
    cells = {nid: (round(n.position[0] / LAYOUT_DX), round(n.position[1] / LAYOUT_DY))
             for nid, n in graph.nodes.items()}
    columns = 1 + max((c for c, _ in cells.values()), default=0)
    if columns <= 6:
        return
    rows = 1 + max(r for _, r in cells.values())
    band = rows * LAYOUT_DY + 70.0
    # as many columns per band as gives a canvas about 1.6 times as wide as high
    wrap = max(wrap, round(math.sqrt(columns * band * 1.6 / LAYOUT_DX)))
    if columns <= wrap + 1:
        return
    for nid, (col, row) in cells.items():
        graph.nodes[nid].position = ((col % wrap) * LAYOUT_DX,
                                     (col // wrap) * band + row * LAYOUT_DY)


def _prefix(block_type: str) -> str:
    from playground.builder.graph import _prefix as core_prefix

    return core_prefix(block_type)
