"""The Builder's side panels: the block palette, the property panel and the problems list.

The property panel is generated from the selected block's parameter schema
(:class:`~playground.builder.params.Param`): a check box for true/false, a menu for choices,
a text field for numbers and lists of numbers. Typed text is parsed by the schema (never
evaluated); text it refuses gets its one-sentence message under the field and is not applied.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QMimeData, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QStyle,
    QStyledItemDelegate,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.builder import blocks as B
from playground.builder.errors import GraphError
from playground.ui.tabs.builder_canvas import BLOCK_MIME, GROUP_COLOURS, params_text, shape_text

BLOCK_ROLE = Qt.ItemDataRole.UserRole + 1


class _PaletteDelegate(QStyledItemDelegate):
    """A block in two lines: its name (with its group's colour) and its one-line doc."""

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 - Qt override
        if not index.data(BLOCK_ROLE):
            return QSize(option.rect.width(), 26)
        return QSize(option.rect.width(), 40)

    def paint(self, painter, option, index) -> None:
        block = index.data(BLOCK_ROLE)
        if not block:
            super().paint(painter, option, index)
            return
        painter.save()
        rect = QRectF(option.rect)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, QColor("#e3f2fd"))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(rect, QColor("#f1f5f9"))
        colour = QColor(GROUP_COLOURS.get(B.get(block).group, "#607d8b"))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(QRectF(rect.left() + 2, rect.top() + 8, 4, rect.height() - 16),
                                2, 2)
        font = QFont(option.font)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QPen(QColor("#263238")))
        painter.drawText(rect.adjusted(12, 3, -4, -rect.height() / 2),
                         Qt.AlignmentFlag.AlignVCenter, block)
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1.0))
        painter.setFont(small)
        painter.setPen(QPen(QColor("#607d8b")))
        doc = painter.fontMetrics().elidedText(B.get(block).doc, Qt.TextElideMode.ElideRight,
                                               int(rect.width() - 16))
        painter.drawText(rect.adjusted(12, rect.height() / 2, -4, -3),
                         Qt.AlignmentFlag.AlignVCenter, doc)
        painter.restore()


class Palette(QTreeWidget):
    """Blocks grouped by kind. Drag one onto the canvas (a real drag with ``BLOCK_MIME``
    data) or double-click it to add it in the middle of the view."""

    add_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setIndentation(10)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setItemDelegate(_PaletteDelegate(self))
        self.setMouseTracking(True)
        self.setUniformRowHeights(False)
        self.setToolTip("Drag a block onto the canvas, or double-click it.")
        for group, blocks in B.by_group().items():
            if not blocks:
                continue
            top = QTreeWidgetItem([group])
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.addTopLevelItem(top)
            for block in blocks:
                item = QTreeWidgetItem([block.name])
                item.setData(0, BLOCK_ROLE, block.name)
                item.setToolTip(0, f"<b>{block.name}</b> ({group})<br>{block.doc}")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsDragEnabled)
                top.addChild(item)
        self.expandAll()
        self.itemDoubleClicked.connect(self._on_double_click)

    def item_for(self, block: str) -> QTreeWidgetItem | None:
        for i in range(self.topLevelItemCount()):
            top = self.topLevelItem(i)
            for j in range(top.childCount()):
                if top.child(j).data(0, BLOCK_ROLE) == block:
                    return top.child(j)
        return None

    def blocks(self) -> list[str]:
        out = []
        for i in range(self.topLevelItemCount()):
            top = self.topLevelItem(i)
            out += [top.child(j).data(0, BLOCK_ROLE) for j in range(top.childCount())]
        return out

    def mimeTypes(self) -> list[str]:  # noqa: N802 - Qt override
        return [BLOCK_MIME]

    def mimeData(self, items) -> QMimeData:  # noqa: N802 - Qt override
        return block_mime(next((i.data(0, BLOCK_ROLE) for i in items
                                if i.data(0, BLOCK_ROLE)), ""))

    def supportedDropActions(self):  # noqa: N802 - Qt override
        return Qt.DropAction.CopyAction

    def _on_double_click(self, item: QTreeWidgetItem, column: int) -> None:
        block = item.data(0, BLOCK_ROLE)
        if block:
            self.add_requested.emit(block)


def block_mime(block: str) -> QMimeData:
    """What a palette drag carries: the block type's name."""
    mime = QMimeData()
    mime.setData(BLOCK_MIME, block.encode("utf-8"))
    mime.setText(block)
    return mime


class PropertyPanel(QScrollArea):
    """The selected block: its name, type, what it does, output shape and parameters, the
    problem on it with a one-click fix, and one field per parameter of its schema."""

    param_changed = Signal(str, str, object)   # node id, parameter, parsed value
    rename_requested = Signal(str, str)        # old id, new id
    fix_requested = Signal(object)             # the Problem whose fix to apply

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setMinimumWidth(280)
        self.node_id: str | None = None
        self.fields: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self.problem = None
        self._params: tuple = ()
        self._body = QWidget()
        self.setWidget(self._body)
        self._layout = QVBoxLayout(self._body)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.doc = QLabel()
        self.doc.setWordWrap(True)
        self.doc.setStyleSheet("color: #546e7a;")
        self.stats = QLabel()
        self.stats.setWordWrap(True)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #c62828;")
        self.fix_button = QPushButton()
        self.fix_button.setStyleSheet("QPushButton { background: #c62828; color: white; "
                                      "padding: 5px 10px; border-radius: 4px; }")
        self.fix_button.clicked.connect(lambda: self.fix_requested.emit(self.problem))
        self.name_edit = QLineEdit()
        self.name_edit.setToolTip("The block's name: the attribute name in exported code "
                                  "(letters, digits and _).")
        self.name_edit.editingFinished.connect(self._on_rename)
        self.name_error = QLabel()
        self.name_error.setWordWrap(True)
        self.name_error.setStyleSheet("color: #c62828;")
        self.form_host = QWidget()
        self.form = QVBoxLayout(self.form_host)
        self.form.setContentsMargins(0, 4, 0, 0)
        self.form.setSpacing(2)
        for w in (self.title, self.doc, self.stats, self.problem_label, self.fix_button):
            self._layout.addWidget(w)
        self.name_row = QWidget()
        name_row = QFormLayout(self.name_row)
        name_row.setContentsMargins(0, 0, 0, 0)
        name_row.addRow("name", self.name_edit)
        self._layout.addWidget(self.name_row)
        self._layout.addWidget(self.name_error)
        self._layout.addWidget(self.form_host)
        self._layout.addStretch(1)
        self.show_node(None)

    # showing ----------------------------------------------------------------------------
    def show_node(self, node: Any, info: Any = None, problem: Any = None,
                  selected: int = 0) -> None:
        """Show ``node`` (a graph Node; None: nothing or several selected)."""
        same = node is not None and node.id == self.node_id and \
            set(self.fields) == {p.name for p in node.block.params}
        self.node_id = node.id if node is not None else None
        for w in (self.doc, self.stats, self.name_row, self.form_host):
            w.setVisible(node is not None)
        self.name_error.hide()
        if node is None:
            self.title.setText(f"<b>{selected} blocks selected</b>" if selected > 1 else
                               "<b>No block selected</b><br>Click a block to edit it; drag "
                               "blocks from the palette onto the canvas.")
            self._clear_form()
            self._params = ()
            self._show_problem(None)
            return
        block = node.block
        self._params = block.params
        self.title.setText(f"<span style='font-size:12pt'><b>{block.name}</b></span> "
                           f"<span style='color:#78909c'>({block.group})</span>")
        self.doc.setText(block.doc + (f" Takes {block.layout}." if block.layout else ""))
        if info is not None and info.status == "ok":
            self.stats.setText(f"Output: <b>{shape_text(info.shape)}</b> per sample · "
                               f"{params_text(info.params)}")
        elif info is not None and info.status == "error":
            self.stats.setText("Output: <b style='color:#c62828'>error</b>")
        else:
            self.stats.setText("Output: not known yet (connect the blocks before it)")
        if not self.name_edit.hasFocus():
            self.name_edit.setText(node.id)
        if same:
            self._update_values(node)
        else:
            self._build_form(node)
        self._show_problem(problem)

    def _show_problem(self, problem: Any) -> None:
        self.problem = problem
        self.problem_label.setVisible(problem is not None)
        if problem is not None:
            self.problem_label.setText(problem.message)
        has_fix = problem is not None and bool(problem.fix)
        self.fix_button.setVisible(has_fix)
        if has_fix:
            text = problem.fix_text or f"set {problem.fix['param']} to {problem.fix['value']}"
            self.fix_button.setText("Fix: " + text)

    def _clear_form(self) -> None:
        while self.form.count():
            item = self.form.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.fields, self.errors = {}, {}

    def _build_form(self, node: Any) -> None:
        self._clear_form()
        for param in node.block.params:
            value = node.params[param.name]
            tip = f"{param.help} ({param.describe()})"
            if param.kind == "bool":
                w: QWidget = QCheckBox()
                w.setChecked(bool(value))
                w.toggled.connect(lambda on, n=param.name: self._emit(n, on))
            elif param.kind == "choice":
                w = QComboBox()
                w.addItems(list(param.choices))
                w.setCurrentText(str(value))
                w.activated.connect(lambda _i, n=param.name, c=w: self._emit(n, c.currentText()))
            else:
                w = QLineEdit(_text(value))
                w.editingFinished.connect(lambda n=param.name, e=w: self._on_text(n, e))
            w.setToolTip(tip)
            label = QLabel(f"<b>{param.label}</b>")
            label.setToolTip(tip)
            help_label = QLabel(param.help)
            help_label.setWordWrap(True)
            help_label.setStyleSheet("color: #78909c; font-size: 8pt;")
            error = QLabel()
            error.setWordWrap(True)
            error.setStyleSheet("color: #c62828;")
            error.hide()
            for part in (label, w, help_label, error):
                self.form.addWidget(part)
            self.form.addSpacing(6)
            self.fields[param.name] = w
            self.errors[param.name] = error

    def _update_values(self, node: Any) -> None:
        for param in node.block.params:
            w, value = self.fields[param.name], node.params[param.name]
            w.blockSignals(True)
            if isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QComboBox):
                w.setCurrentText(str(value))
            elif not w.hasFocus() or not self.errors[param.name].isVisible():
                w.setText(_text(value))
            w.blockSignals(False)

    # editing ----------------------------------------------------------------------------
    def _on_text(self, name: str, edit: QLineEdit) -> None:
        if self.node_id is None:
            return
        self._emit(name, edit.text())

    def _emit(self, name: str, raw: Any) -> None:
        """Parse ``raw`` by the schema; a refused value shows its sentence, not applied."""
        if self.node_id is None:
            return
        error = self.errors.get(name)
        param = next((p for p in self._params if p.name == name), None)
        if param is None:
            return
        try:
            value = param.parse(raw)
        except GraphError as exc:
            if error is not None:
                error.setText(f"{exc} Not applied.")
                error.show()
            return
        if error is not None:
            error.hide()
        self.param_changed.emit(self.node_id, name, value)

    def show_error(self, name: str, message: str) -> None:
        """A sentence under field ``name`` (the graph refused the value)."""
        label = self.errors.get(name)
        if label is not None:
            label.setText(message)
            label.show()

    def _on_rename(self) -> None:
        if self.node_id is None:
            return
        new = self.name_edit.text().strip()
        if new and new != self.node_id:
            self.rename_requested.emit(self.node_id, new)

    def show_rename_error(self, message: str) -> None:
        self.name_error.setText(message)
        self.name_error.show()


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class ProblemList(QListWidget):
    """Every problem of the graph; clicking one selects (and shows) its block."""

    node_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)
        self.itemClicked.connect(self._on_click)
        self._shown: list[tuple[str, str | None, str]] | None = None

    def show_problems(self, problems) -> None:
        rows = [(p.message, p.node, p.severity) for p in problems]
        if rows == self._shown:
            return
        self._shown = rows
        self.clear()
        for message, node, severity in rows[:500]:
            item = QListWidgetItem(("✖  " if severity == "error" else "⚠  ") + message)
            item.setForeground(QColor("#c62828" if severity == "error" else "#8d6e00"))
            item.setData(Qt.ItemDataRole.UserRole, node)
            item.setToolTip(message)
            self.addItem(item)
        if not rows:
            item = QListWidgetItem("✔  No problems: every block has its shape.")
            item.setForeground(QColor("#2e7d32"))
            self.addItem(item)

    def messages(self) -> list[str]:
        return [m for m, _, _ in self._shown or ()]

    def _on_click(self, item: QListWidgetItem) -> None:
        node = item.data(Qt.ItemDataRole.UserRole)
        if node:
            self.node_clicked.emit(node)
