"""The Builder's canvas: blocks as nodes with ports, connections as labelled curves.

Written on ``QGraphicsScene`` (NodeGraphQt was tried first; see the issue note). The canvas
only *shows* a :class:`~playground.builder.graph.Graph` and its shape report and turns
gestures into requests (``connect_requested``, ``nodes_moved``, ``block_dropped``); the tab
turns each request into an undoable edit of the graph and calls :meth:`BuilderScene.sync`,
which updates only the items whose block, position, shape or problem changed.

Gestures: drag from an output port to an input port (or back) to connect; drag blocks to move
them. The view (zoom, pan, rubber band, drops from the palette) is in
:mod:`~playground.ui.tabs.builder_view`.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QStyle,
)

from playground.builder import blocks as B
from playground.builder.graph import Edge, Graph, Node
from playground.builder.params import format_shape

BLOCK_MIME = "application/x-playground-block"

NODE_W = 184.0
HEADER_H = 24.0
ROW_H = 17.0
PORT_R = 6.0
GRID = 24.0

GROUP_COLOURS = {
    "Input": "#3f51b5", "Convolution": "#1e88e5", "Pooling": "#00897b", "Linear": "#8e24aa",
    "Normalization": "#ef6c00", "Regularization": "#78909c", "Activation": "#43a047",
    "Shape": "#6d4c41", "Embedding": "#d81b60", "Recurrent": "#f9a825", "Attention": "#5e35b1",
    "Join": "#455a64",
}
ERROR = QColor("#d32f2f")
WARNING = QColor("#f9a825")
TEXT = QColor("#263238")
MUTED = QColor("#78909c")
EDGE = QColor("#90a4ae")
SELECTED = QColor("#1565c0")


def shape_text(shape) -> str:
    return format_shape(shape).replace("x", "×") if shape is not None else "?"


def params_text(n: int) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f} M params"
    if n >= 1e4:
        return f"{n / 1e3:.1f} k params"
    return f"{n:,} params"


def edge_path(a: QPointF, b: QPointF) -> QPainterPath:
    """A curve from output ``a`` to input ``b``; one that runs backwards (into the next band
    of a folded layout) goes round through the gap between the bands instead of a wide loop."""
    path = QPainterPath(a)
    if b.x() >= a.x() - 20 or abs(b.y() - a.y()) < 40:
        dx = max(40.0, abs(b.x() - a.x()) * 0.5)
        path.cubicTo(a + QPointF(dx, 0), b - QPointF(dx, 0), b)
        return path
    mid = max(b.y() - 95.0, (a.y() + b.y()) / 2) if b.y() > a.y() else (a.y() + b.y()) / 2
    r = 36.0
    path.cubicTo(QPointF(a.x() + r, a.y()), QPointF(a.x() + r, mid), QPointF(a.x(), mid))
    path.lineTo(QPointF(b.x(), mid))
    path.cubicTo(QPointF(b.x() - r, mid), QPointF(b.x() - r, b.y()), b)
    return path


def _font(size: float, bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSizeF(size)
    font.setBold(bold)
    return font


class PortItem(QGraphicsItem):
    """An input (``index`` >= 0) or the output (``index`` == -1) of a node."""

    def __init__(self, node: NodeItem, index: int) -> None:
        super().__init__(node)
        self.node = node
        self.index = index
        self.connected = False
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self._hover = False
        self.setZValue(2)

    @property
    def is_output(self) -> bool:
        return self.index < 0

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        r = PORT_R + 4
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        colour = QColor(GROUP_COLOURS.get(self.node.group, "#607d8b"))
        r = PORT_R + (1.5 if self._hover else 0)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(colour.darker(130), 1.6))
        painter.setBrush(QBrush(colour if self.connected or self._hover else QColor("white")))
        painter.drawEllipse(QPointF(0, 0), r, r)

    def hoverEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._hover = False
        self.update()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self.scene().begin_connect(self)
            event.accept()
        else:
            event.ignore()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.scene().drag_connect(event.scenePos())

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.scene().end_connect(event.scenePos())


class NodeItem(QGraphicsItem):
    """One block: a coloured header (type and name), its output shape and parameter count,
    and the problem on it (red outline and "expected … got …")."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node_id = node.id
        self.type = node.type
        self.group = node.block.group
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemSendsScenePositionChanges)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.inputs: list[PortItem] = []
        self.output = PortItem(self, -1)
        self.edges: set[EdgeItem] = set()
        self.shape_line = "?"
        self.params_line = ""
        self.problem_line = ""
        self.status = "skipped"
        self.severity = ""
        self._sig: tuple = ()
        self.height = HEADER_H + 2 * ROW_H + 10
        self.set_inputs(node.num_inputs)
        self._layout_ports()
        self.setPos(*node.position)

    # model ------------------------------------------------------------------------------
    def set_inputs(self, n: int) -> None:
        if n == len(self.inputs):
            return
        self.prepareGeometryChange()
        while len(self.inputs) > n:
            port = self.inputs.pop()
            port.setParentItem(None)
            if port.scene() is not None:
                port.scene().removeItem(port)
        while len(self.inputs) < n:
            self.inputs.append(PortItem(self, len(self.inputs)))
        self._layout_ports()

    def _layout_ports(self) -> None:
        body = HEADER_H + 2 * ROW_H + 10 + (ROW_H if self.problem_line else 0)
        self.height = max(body, HEADER_H + 8 + 18 * len(self.inputs))
        n = len(self.inputs)
        top = HEADER_H
        for i, port in enumerate(self.inputs):
            port.setPos(0, top + (self.height - top) * (i + 1) / (n + 1))
        self.output.setPos(NODE_W, top + (self.height - top) / 2)
        for edge in self.edges:
            edge.update_path()

    def set_info(self, info: Any, problem: Any) -> None:
        """Show a :class:`~playground.builder.shapes.BlockInfo` and the problem on the block
        (a :class:`~playground.builder.graph.Problem` or None); repaints only on a change."""
        status = info.status if info is not None else "skipped"
        shape = shape_text(info.shape) if info is not None and info.shape is not None else (
            "error" if status == "error" else "?")
        params = params_text(info.params) if info is not None and status == "ok" else ""
        line, severity, tip = "", "", ""
        if problem is not None:
            severity = problem.severity
            tip = problem.message
            if problem.expected or problem.got:
                line = f"expected {problem.expected or '?'}, got {problem.got or '?'}"
            else:
                line = {"dangling": "not part of the network", "cycle": "in a loop",
                        "unconnected": "input not connected"}.get(problem.kind, problem.kind)
        sig = (shape, params, line, severity, status, tip)
        if sig == self._sig:
            return
        had_line = bool(self.problem_line)
        self._sig = sig
        self.shape_line, self.params_line, self.problem_line = shape, params, line
        self.status, self.severity = status, severity
        doc = B.get(self.type).doc
        self.setToolTip(f"<b>{self.type}</b> {self.node_id}<br>{doc}"
                        + (f"<br><span style='color:#d32f2f'>{tip}</span>" if tip else ""))
        if had_line != bool(line):
            self.prepareGeometryChange()
            self._layout_ports()
        self.update()

    # painting ---------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(-3, -3, NODE_W + 6, self.height + 6)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(0, 0, NODE_W, self.height)
        colour = QColor(GROUP_COLOURS.get(self.group, "#607d8b"))
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        # shadow, body
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 28))
        painter.drawRoundedRect(rect.translated(1.5, 2.5), 7, 7)
        painter.setBrush(QColor("#ffffff") if self.status != "dangling" else QColor("#f4f6f7"))
        painter.drawRoundedRect(rect, 7, 7)
        # header
        header = QPainterPath()
        header.addRoundedRect(QRectF(0, 0, NODE_W, HEADER_H + 7), 7, 7)
        clip = QPainterPath()
        clip.addRect(QRectF(0, 0, NODE_W, HEADER_H))
        painter.setBrush(colour)
        painter.drawPath(header.intersected(clip))
        painter.setPen(QColor("white"))
        painter.setFont(_font(9.0, bold=True))
        type_w = QFontMetricsF(painter.font()).horizontalAdvance(self.type)
        painter.drawText(QRectF(10, 0, NODE_W - 20, HEADER_H),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self.type)
        painter.setFont(_font(8.0))
        painter.setPen(QColor(255, 255, 255, 200))
        name = QFontMetricsF(painter.font()).elidedText(self.node_id, Qt.TextElideMode.ElideMiddle,
                                                        max(0.0, NODE_W - 28 - type_w))
        painter.drawText(QRectF(10, 0, NODE_W - 20, HEADER_H),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, name)
        # body: output shape, parameters, problem
        y = HEADER_H + 4
        painter.setFont(_font(9.0, bold=True))
        painter.setPen(ERROR if self.status == "error" else TEXT if self.status == "ok"
                       else MUTED)
        painter.drawText(QRectF(14, y, NODE_W - 28, ROW_H), Qt.AlignmentFlag.AlignVCenter,
                         "→ " + self.shape_line)
        y += ROW_H
        painter.setFont(_font(8.0))
        painter.setPen(MUTED)
        painter.drawText(QRectF(14, y, NODE_W - 28, ROW_H), Qt.AlignmentFlag.AlignVCenter,
                         self.params_line or ("no parameters" if self.status == "ok" else ""))
        y += ROW_H
        if self.problem_line:
            painter.setPen(ERROR if self.severity == "error" else WARNING.darker(140))
            fm = QFontMetricsF(painter.font())
            painter.drawText(QRectF(14, y, NODE_W - 28, ROW_H), Qt.AlignmentFlag.AlignVCenter,
                             fm.elidedText(self.problem_line, Qt.TextElideMode.ElideRight,
                                           NODE_W - 28))
        # outline
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self.severity == "error":
            pen = QPen(ERROR, 2.6)
        elif selected:
            pen = QPen(SELECTED, 2.4)
        elif self.severity == "warning":
            pen = QPen(WARNING, 1.8, Qt.PenStyle.DashLine)
        else:
            pen = QPen(QColor("#b0bec5"), 1.0)
        painter.setPen(pen)
        painter.drawRoundedRect(rect, 7, 7)
        if selected and self.severity == "error":
            painter.setPen(QPen(SELECTED, 1.2, Qt.PenStyle.DashLine))
            painter.drawRoundedRect(rect.adjusted(-2.5, -2.5, 2.5, 2.5), 8, 8)

    def itemChange(self, change, value):  # noqa: N802 - Qt override
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.update_path()
        return super().itemChange(change, value)

    def port_pos(self, index: int) -> QPointF:
        port = self.output if index < 0 else self.inputs[index]
        return self.mapToScene(port.pos())


class EdgeItem(QGraphicsPathItem):
    """A connection: a curve from an output to an input with the tensor size it carries."""

    def __init__(self, edge: Edge, source: NodeItem, target: NodeItem) -> None:
        super().__init__()
        self.edge = edge
        self.source, self.target = source, target
        self.label = ""
        self.error = False
        self.setZValue(0)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self._label_rect = QRectF()
        source.edges.add(self)
        target.edges.add(self)
        self.update_path()

    def detach(self) -> None:
        self.source.edges.discard(self)
        self.target.edges.discard(self)

    def set_label(self, text: str, error: bool = False) -> None:
        if (text, error) != (self.label, self.error):
            self.label, self.error = text, error
            self.update_path()

    def update_path(self) -> None:
        if self.edge.port >= len(self.target.inputs):
            return
        self.prepareGeometryChange()
        path = edge_path(self.source.port_pos(-1), self.target.port_pos(self.edge.port))
        if self.label:
            fm = QFontMetricsF(_font(7.5))
            w, h = fm.horizontalAdvance(self.label) + 10, fm.height() + 3
            mid = path.pointAtPercent(0.5)
            self._label_rect = QRectF(mid.x() - w / 2, mid.y() - h / 2, w, h)
        else:
            self._label_rect = QRectF()
        self.setPath(path)   # after the label: the new bounding rect includes it

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return super().boundingRect().adjusted(-4, -4, 4, 4).united(self._label_rect)

    def shape(self) -> QPainterPath:
        from PySide6.QtGui import QPainterPathStroker

        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        return stroker.createStroke(self.path())

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        colour = SELECTED if selected else ERROR.lighter(130) if self.error else EDGE
        painter.setPen(QPen(colour, 2.6 if selected else 2.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        if self.label:
            painter.setPen(QPen(colour, 1.0))
            painter.setBrush(QColor("#ffffff"))
            painter.drawRoundedRect(self._label_rect, 4, 4)
            painter.setFont(_font(7.5))
            painter.setPen(TEXT if not self.error else ERROR)
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)


class BuilderScene(QGraphicsScene):
    """Shows a graph; gestures come out as signals (see the module docstring)."""

    connect_requested = Signal(str, str, int)     # source, target, port
    reconnect_requested = Signal(object, object)  # Edge picked up, (source, target, port)|None
    nodes_moved = Signal(dict)                    # id -> (x, y)
    block_dropped = Signal(str, QPointF)          # block type, scene position

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[Edge, EdgeItem] = {}
        self._drag_port: PortItem | None = None
        self._drag_path: QGraphicsPathItem | None = None
        self._press_pos: dict[str, QPointF] = {}
        self._picked: Edge | None = None
        self.setSceneRect(QRectF(-2000, -2000, 8000, 6000))
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)

    # model -> items ---------------------------------------------------------------------
    def sync(self, graph: Graph, report: Any = None) -> None:
        """Make the items show ``graph`` (and ``report``'s shapes and problems); items that
        did not change are left alone."""
        for nid in [n for n in self.nodes if n not in graph.nodes
                    or self.nodes[n].type != graph.nodes[n].type]:
            item = self.nodes.pop(nid)
            for edge in list(item.edges):
                self._remove_edge(edge.edge)
            self.removeItem(item)
        for nid, node in graph.nodes.items():
            item = self.nodes.get(nid)
            if item is None:
                item = NodeItem(node)
                self.nodes[nid] = item
                self.addItem(item)
            else:
                item.set_inputs(node.num_inputs)
                x, y = node.position
                if item.pos().x() != x or item.pos().y() != y:
                    item.setPos(x, y)
        wanted = set(graph.edges)
        for edge in [e for e in self.edges if e not in wanted]:
            self._remove_edge(edge)
        for edge in graph.edges:
            if edge not in self.edges:
                item = EdgeItem(edge, self.nodes[edge.source], self.nodes[edge.target])
                self.edges[edge] = item
                self.addItem(item)
        connected = {(e.target, e.port) for e in graph.edges}
        sources = {e.source for e in graph.edges}
        for nid, item in self.nodes.items():
            for port in item.inputs:
                on = (nid, port.index) in connected
                if port.connected != on:
                    port.connected = on
                    port.update()
            on = nid in sources
            if item.output.connected != on:
                item.output.connected = on
                item.output.update()
        if report is not None:
            self.show_report(report)

    def show_report(self, report: Any) -> None:
        problems: dict[str, Any] = {}
        for p in report.problems:
            if p.node is not None and (p.node not in problems or
                                       (p.severity == "error" and
                                        problems[p.node].severity != "error")):
                problems[p.node] = p
        for nid, item in self.nodes.items():
            item.set_info(report.blocks.get(nid), problems.get(nid))
        for edge, shape in report.edges:
            item = self.edges.get(edge)
            if item is not None:
                target = report.blocks.get(edge.target)
                bad = target is not None and target.status == "error"
                item.set_label(shape_text(shape) if shape is not None else "", bad)

    def _remove_edge(self, edge: Edge) -> None:
        item = self.edges.pop(edge, None)
        if item is not None:
            item.detach()
            self.removeItem(item)

    def selected_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def selected_edges(self) -> list[Edge]:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select(self, ids) -> None:
        self.clearSelection()
        for nid in ids:
            item = self.nodes.get(nid)
            if item is not None:
                item.setSelected(True)

    # connecting -------------------------------------------------------------------------
    def begin_connect(self, port: PortItem) -> None:
        """Start a connection from ``port``; pressing a connected input picks its connection
        up instead (drop it on another input to move it, or on empty canvas to remove it)."""
        self._picked = None
        if not port.is_output and port.connected:
            edge = next((e for e in self.edges if e.target == port.node.node_id
                         and e.port == port.index), None)
            if edge is not None and edge.source in self.nodes:
                self._picked = edge
                self.edges[edge].hide()
                port = self.nodes[edge.source].output
        self._drag_port = port
        self._drag_path = QGraphicsPathItem()
        self._drag_path.setPen(QPen(SELECTED, 2.0, Qt.PenStyle.DashLine))
        self._drag_path.setZValue(5)
        self.addItem(self._drag_path)
        self.drag_connect(port.scenePos())

    def drag_connect(self, pos: QPointF) -> None:
        port = self._drag_port
        if port is None or self._drag_path is None:
            return
        a = port.scenePos()
        a, b = (a, pos) if port.is_output else (pos, a)
        self._drag_path.setPath(edge_path(a, b))

    def end_connect(self, pos: QPointF) -> None:
        port, self._drag_port = self._drag_port, None
        picked, self._picked = self._picked, None
        if self._drag_path is not None:
            self.removeItem(self._drag_path)
            self._drag_path = None
        if port is None:
            return
        other = self.port_at(pos)
        valid = other is not None and other.is_output != port.is_output \
            and other.node is not port.node
        target = None
        if valid:
            out, inp = (port, other) if port.is_output else (other, port)
            target = (out.node.node_id, inp.node.node_id, inp.index)
        if picked is not None:
            if target == (picked.source, picked.target, picked.port):
                self.edges[picked].show()          # put back where it was: nothing changes
                return
            if picked in self.edges:
                self.edges[picked].show()          # the edit's sync removes it
            self.reconnect_requested.emit(picked, target)
        elif target is not None:
            self.connect_requested.emit(*target)

    def port_at(self, pos: QPointF) -> PortItem | None:
        best, best_d = None, PORT_R * 2.5
        for item in self.items(QRectF(pos.x() - 15, pos.y() - 15, 30, 30)):
            if isinstance(item, PortItem):
                d = math.dist((pos.x(), pos.y()), (item.scenePos().x(), item.scenePos().y()))
                if d < best_d:
                    best, best_d = item, d
        return best

    # moving -----------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().mousePressEvent(event)
        self._press_pos = {nid: QPointF(item.pos()) for nid, item in self.nodes.items()
                           if item.isSelected()}

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().mouseReleaseEvent(event)
        moved = {}
        for nid, before in self._press_pos.items():
            item = self.nodes.get(nid)
            if item is not None and item.pos() != before:
                moved[nid] = (round(item.pos().x(), 1), round(item.pos().y(), 1))
        self._press_pos = {}
        if moved:
            self.nodes_moved.emit(moved)

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        painter.fillRect(rect, QColor("#f3f5f8"))
        if self.views() and self.views()[0].transform().m11() < 0.45:
            return
        left = math.floor(rect.left() / GRID) * GRID
        top = math.floor(rect.top() / GRID) * GRID
        painter.setPen(QPen(QColor("#d5dbe3"), 1.6))
        points = []
        x = left
        while x < rect.right():
            y = top
            while y < rect.bottom():
                points.append(QPointF(x, y))
                y += GRID
            x += GRID
        painter.drawPoints(points)
