"""The Builder tab driven like a user: blocks dragged from the palette (real mime data through
the canvas's drop handler), ports connected with the mouse, shapes updating, a mismatch
provoked and fixed with its button, undo/redo of every edit kind, copy/paste, JSON files
(and bad ones), a 1,000-block graph, and LeNet-5 sent to the Image tab to train an epoch."""

from __future__ import annotations

import json
import os
import time

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from playground.builder.graph import Graph
from tests.ui.qt_helpers import open_tab


@pytest.fixture
def tab(qtbot):
    import torch  # noqa: F401 - shape inference runs on meta tensors

    from playground.ui.tabs.builder_tab import BuilderTab

    widget = open_tab(qtbot, lambda ctx: _ready(BuilderTab, ctx), (1400, 900))
    yield widget
    widget.shutdown()


def _ready(cls, appctx):
    appctx.torch_loaded = True
    return cls(appctx)


def drop_block(tab, block: str, at: QPoint) -> None:
    """Drag ``block`` out of the palette and drop it at viewport point ``at``."""
    item = tab.palette.item_for(block)
    mime = tab.palette.mimeData([item])
    vp = tab.canvas.viewport()
    enter = QDragEnterEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                          Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, move)
    drop = QDropEvent(QPointF(at), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, drop)


def mouse_drag(tab, a: QPointF, b: QPointF, steps: int = 8) -> None:
    """Press at scene point ``a``, move to ``b`` and release, on the canvas's viewport."""
    view, vp = tab.canvas, tab.canvas.viewport()
    p1, p2 = view.mapFromScene(a), view.mapFromScene(b)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p1)
    for i in range(1, steps + 1):
        pt = QPointF(p1 + (p2 - p1) * (i / steps))
        QApplication.sendEvent(vp, QMouseEvent(QEvent.Type.MouseMove, pt,
                                               QPointF(vp.mapToGlobal(pt.toPoint())),
                                               Qt.MouseButton.LeftButton,
                                               Qt.MouseButton.LeftButton,
                                               Qt.KeyboardModifier.NoModifier))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p2)


def connect_ports(tab, source: str, target: str, port: int = 0) -> None:
    s, t = tab.scene.nodes[source], tab.scene.nodes[target]
    mouse_drag(tab, s.port_pos(-1), t.port_pos(port))


def test_palette_lists_every_group_with_explanations(tab):
    from playground.builder import blocks as B

    assert sorted(tab.palette.blocks()) == sorted(B.BLOCKS)
    item = tab.palette.item_for("Conv2d")
    assert B.get("Conv2d").doc in item.toolTip(0)
    assert item.parent().text(0) == "Convolution"
    tab.palette.itemDoubleClicked.emit(item, 0)          # double-click adds it mid-view
    assert [n.type for n in tab.graph.nodes.values()] == ["Input", "Conv2d"]
    assert tab.scene.selected_ids() == ["conv2d1"]
    assert tab.panel.fields["in_channels"].text() == "3"


def test_shapes_wait_for_torch(qtbot):
    from playground.ui.tabs.builder_tab import BuilderTab

    widget = open_tab(qtbot, BuilderTab)
    widget.load_template("mlp")
    assert widget.report is None and "once PyTorch has loaded" in widget.summary.text()
    widget.appctx.torch_loaded = True
    widget.appctx.torch_ready.emit()
    assert widget.report is not None and widget.report.ok
    assert "parameters" in widget.summary.text()


def test_drag_connect_see_shapes_then_fix_a_mismatch(tab, qtbot):
    tab.canvas.resetTransform()
    assert list(tab.graph.nodes) == ["input"]
    tab.input_edit.setText("1,28,28")
    tab.input_edit.editingFinished.emit()
    vp_pts = [QPoint(420, 150), QPoint(420, 300), QPoint(700, 300)]
    for block, at in zip(("Conv2d", "Flatten", "Linear"), vp_pts, strict=True):
        drop_block(tab, block, at)
    assert [n.type for n in tab.graph.nodes.values()] == ["Input", "Conv2d", "Flatten", "Linear"]
    conv, flat, fc = list(tab.graph.nodes)[1:]
    # put the Input left of the conv so the drags are short
    tab.move_blocks({"input": (tab.graph.nodes[conv].position[0] - 260,
                               tab.graph.nodes[conv].position[1])})
    assert tab.scene.nodes[conv].shape_line == "?"
    connect_ports(tab, "input", conv)
    connect_ports(tab, conv, flat)
    connect_ports(tab, flat, fc)
    assert len(tab.graph.edges) == 3
    # the Conv2d's default in_channels (3) does not match the 1-channel input: fixed in a click
    assert tab.report.blocks[conv].status == "error"
    assert tab.scene.nodes[conv].problem_line == "expected 3, got 1"
    assert tab.scene.nodes[flat].shape_line == "?"
    tab.scene.select([conv])
    assert tab.panel.fix_button.text() == "Fix: set in_channels to 1"
    tab.panel.fix_button.click()
    info = tab.report.blocks[conv]
    assert info.shape == (16, 26, 26)
    assert tab.scene.nodes[conv].shape_line == "×".join(map(str, info.shape))
    assert tab.scene.nodes[conv].params_line.endswith("params")
    edge = next(e for e in tab.graph.edges if e.source == conv)
    assert tab.scene.edges[edge].label == tab.scene.nodes[conv].shape_line
    flat_size = tab.report.blocks[flat].shape[0]
    # the Linear's in_features does not match: red on the Linear, shapes before it kept
    problem = tab.report.blocks[fc].problem
    assert problem is not None and problem.node == fc
    assert tab.scene.nodes[fc].severity == "error"
    assert f"got {flat_size}" in tab.scene.nodes[fc].problem_line
    assert tab.scene.nodes[flat].shape_line == str(flat_size)
    assert any(fc in m for m in tab.problems.messages())
    assert "error" in tab.summary.text()
    # clicking the problem selects the block; its fix button fixes it in one click
    tab.problems.itemClicked.emit(tab.problems.item(0))
    assert tab.scene.selected_ids() == [fc]
    assert tab.panel.fix_button.isVisible()
    assert tab.panel.fix_button.text() == f"Fix: set in_features to {flat_size}"
    tab.panel.fix_button.click()
    assert tab.graph.nodes[fc].params["in_features"] == flat_size
    assert tab.report.ok and tab.scene.nodes[fc].severity == ""
    assert "parameters" in tab.summary.text() and "error" not in tab.summary.text()
    # the input shape field is the Input block's shape: zero sizes are refused in a sentence
    tab.input_edit.setText("1,0,28")
    tab.input_edit.editingFinished.emit()
    assert "input shape" in tab.message.text() and tab.report.ok
    tab.undo_stack.undo()                                  # the fix
    assert tab.graph.nodes[fc].params["in_features"] != flat_size


def test_property_panel_parses_typed_values(tab):
    tab.load_template("lenet5")
    tab.scene.select(["conv1"])
    field = tab.panel.fields["kernel_size"]
    field.setText("abc")
    field.editingFinished.emit()
    error = tab.panel.errors["kernel_size"]
    assert not error.isHidden() and "kernel_size must be" in error.text()
    assert "Not applied" in error.text()
    assert tab.graph.nodes["conv1"].params["kernel_size"] == (5,)
    field.setText("7")
    field.editingFinished.emit()
    assert tab.graph.nodes["conv1"].params["kernel_size"] == (7,)
    assert error.isHidden()
    # a 7x7 kernel changes every size after it: fc1 now mismatches (4x4x16 = 256 features)
    assert tab.report.blocks["fc1"].status == "error"
    assert tab.report.blocks["pool2"].shape == (16, 4, 4)
    tab.panel.name_edit.setText("9bad")
    tab.panel.name_edit.editingFinished.emit()
    assert "not allowed" in tab.panel.name_error.text() and "conv1" in tab.graph.nodes


def _state(tab):
    return json.dumps(tab.graph.to_dict(), sort_keys=True)


def test_undo_redo_round_trips_every_edit_kind(tab, qtbot, tmp_path):
    tab.load_template("mlp")
    tab.load_template("lenet5")
    stack = tab.undo_stack

    def check(do):
        before = _state(tab)
        do()
        after = _state(tab)
        assert after != before
        stack.undo()
        assert _state(tab) == before
        stack.redo()
        assert _state(tab) == after

    check(lambda: tab.add_block("GELU", QPointF(10, 500)))
    check(lambda: tab.set_param("fc1", "in_features", 99))
    check(lambda: tab.apply_fix(next(p for p in tab.report.problems if p.fix)))
    check(lambda: (tab.scene.select(["act1"]), tab.delete_selected()))
    check(lambda: tab.disconnect([e for e in tab.graph.edges if e.target == "act2"]))
    check(lambda: tab.connect_blocks("conv2", "act2"))
    check(lambda: tab.set_param("fc3", "out_features", 4))
    check(lambda: tab.rename_block("fc3", "head"))
    check(lambda: tab.auto_layout())
    check(lambda: (tab.scene.select(["conv2", "act2"]), tab.copy_selected(), tab.paste()))
    check(lambda: tab.load_template("resnet_stack"))
    # a real mouse drag of a block moves it, as one undoable edit
    tab.canvas.resetTransform()
    item = tab.scene.nodes["input"]
    tab.canvas.centerOn(item)
    start = item.mapToScene(QPointF(60, 12))
    before = _state(tab)
    mouse_drag(tab, start, start + QPointF(80, 40))
    assert tab.graph.nodes["input"].position != json.loads(before)["nodes"][0]["position"]
    stack.undo()
    assert _state(tab) == before
    # selecting an edge and pressing Delete disconnects it
    edge = tab.graph.edges[0]
    tab.scene.clearSelection()
    tab.scene.edges[edge].setSelected(True)
    check(lambda: tab.delete_selected())
    # the whole history undoes back to the start
    while stack.canUndo():
        stack.undo()
    assert list(tab.graph.nodes) == ["input"]


def test_copy_paste_keeps_connections_and_gets_new_names(tab):
    tab.load_template("lenet5")
    tab.scene.select(["conv2", "act2", "pool2"])
    assert tab.copy_selected()
    assert tab.paste()
    new = tab.scene.selected_ids()
    assert len(new) == 3 and not set(new) & {"conv2", "act2", "pool2"}
    inner = [e for e in tab.graph.edges if e.source in new and e.target in new]
    assert len(inner) == 2
    assert len(tab.graph) == 16
    # pasted blocks are not connected to the Input: reported, not refused
    assert any("not connected" in m or "not part" in m for m in tab.problems.messages())


def test_json_save_open_and_bad_files(tab, tmp_path):
    tab.load_template("inception_net")
    path = tmp_path / "net.json"
    assert tab.save_graph(str(path))
    saved = _state(tab)
    tab.load_template("mlp")
    assert tab.open_graph(str(path))
    assert _state(tab) == saved
    for name, text, words in (
            ("broken.json", "{not json", "not valid JSON"),
            ("newer.json", json.dumps({"format": "model-playground/graph", "version": 99,
                                       "nodes": []}), "newer"),
            ("edited.json", json.dumps({"format": "model-playground/graph", "version": 1,
                                        "nodes": [{"id": "a", "type": "Conv9d"}]}),
             "unknown block type")):
        bad = tmp_path / name
        bad.write_text(text)
        assert not tab.open_graph(str(bad))
        message = tab.message.text()
        assert words in message and "Traceback" not in message and message.count("\n") == 0
        assert _state(tab) == saved                      # what was there is kept
    assert tab.notices and tab.notices[-1][0] == "error"
    out = tmp_path / "net.py"
    assert tab.export_python(str(out))
    source = out.read_text()
    assert "class " in source and "def forward" in source


def test_export_refuses_a_broken_graph(tab, tmp_path):
    tab.load_template("lenet5")
    tab.set_param("fc1", "in_features", 12)
    assert not tab.export_python(str(tmp_path / "x.py"))
    assert "fc1" in tab.message.text() and not (tmp_path / "x.py").exists()


def test_a_thousand_blocks_do_not_hang_the_canvas(tab):
    g = Graph("long")
    g.add("Input", "input", shape=(8,))
    last = "input"
    for i in range(999):
        node = g.add("Linear", f"fc{i}", in_features=8, out_features=8) if i % 2 == 0 \
            else g.add("ReLU", f"act{i}")
        g.connect(last, node.id)
        last = node.id
    t0 = time.perf_counter()
    assert tab.replace_graph(g, "Open long")
    QApplication.processEvents()
    loaded = time.perf_counter() - t0
    assert len(tab.scene.nodes) == 1000 and len(tab.scene.edges) == 999
    assert tab.report.ok
    t0 = time.perf_counter()
    tab.set_param("fc0", "out_features", 4)
    QApplication.processEvents()
    edit = time.perf_counter() - t0
    assert tab.report.blocks["fc2"].status == "error"    # the next Linear now mismatches
    assert loaded < 20 and edit < 3, (loaded, edit)


def test_train_in_image_trains_lenet5_on_digits(qtbot):
    import torch  # noqa: F401
    import torchvision  # noqa: F401

    from playground.core import events as ev
    from playground.ui.app import create_window
    from playground.vision.models import REGISTRY

    _, window = create_window()
    qtbot.addWidget(window)
    window.appctx.torch_loaded = True
    builder = window.tab_widgets["Builder"]
    image = window.tab_widgets["Image recognition"]
    try:
        builder.load_template("lenet5")
        name = builder.train_in("image")
        assert name == "graph:lenet5" and name in REGISTRY
        assert window.tabs.currentWidget() is image
        form = image.view.form
        assert form.value().model == "graph:lenet5"
        combo = image.view.source_combo
        with qtbot.waitSignal(image.data_runner.finished, timeout=60000):
            combo.setCurrentIndex(combo.findData("demo:digits"))
        for field, value in (("epochs", 1), ("image_size", 28), ("batch_size", 64)):
            form.widget_for(field).setValue(value)
        form.widget_for("model").setCurrentIndex(form.widget_for("model").findData(name))
        with qtbot.waitSignal(image.train_runner.finished, timeout=180000) as blocker:
            image.start_training()
        end = blocker.args[0]
        assert isinstance(end, ev.Finished), getattr(end, "details", end)
        xs, ys = image.view.curves.series("loss", "train", "step")
        assert len(xs) >= 2
        # a graph that does not fit the data: the tab says which block to change
        builder.set_param("fc3", "out_features", 7)
        assert builder.train_in("image") == name
        with qtbot.waitSignal(image.train_runner.finished, timeout=60000) as blocker:
            image.start_training()
        failed = blocker.args[0]
        assert isinstance(failed, ev.Failed) and "fc3" in failed.message
        # a broken graph is not sent at all
        builder.set_param("fc1", "in_features", 5)
        assert builder.train_in("image") is None
        assert "Fix the network" in builder.message.text()
        # the other tabs take graphs the same way
        builder.load_template("tiny_gpt")
        assert builder.train_in("text") == "graph:tiny_gpt"
        text = window.tab_widgets["Text"]
        assert window.tabs.currentWidget() is text
        assert text.generate.view.form.value().model == "graph:tiny_gpt"
        builder.load_template("lstm_classifier")
        graph_name = builder.train_in("keywords")
        speech = window.tab_widgets["Speech"]
        assert window.tabs.currentWidget() is speech
        assert speech.view.keyword_form.value().model == graph_name
    finally:
        from playground.speech.models import REGISTRY as SPEECH
        from playground.text.models import TEXT_MODELS

        for reg in (REGISTRY, SPEECH, TEXT_MODELS):
            for entry in [e.name for e in reg if e.name.startswith("graph:")]:
                reg.unregister(entry)
        window.shutdown()


def test_keyboard_shortcuts_on_the_canvas(tab, qtbot):
    tab.load_template("mlp")
    tab.canvas.setFocus()
    tab.scene.select(["relu1"])
    QTest.keyClick(tab.canvas, Qt.Key.Key_Delete)
    assert "relu1" not in tab.graph.nodes
    QTest.keyClick(tab.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "relu1" in tab.graph.nodes
    QTest.keyClick(tab.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert "relu1" not in tab.graph.nodes
    tab.scene.select(["fc3"])
    QTest.keyClick(tab.canvas, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(tab.canvas, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert len([n for n in tab.graph.nodes.values() if n.type == "Linear"]) == 4
    # a key without modifiers last: Qt keeps the last event's modifiers as "held", which
    # would make the next test's selectRow() toggle (Ctrl) instead of select
    QTest.keyClick(tab.canvas, Qt.Key.Key_Escape)
    steps = tab.undo_stack.count()
    tab.set_param("fc1", "out_features", tab.graph.nodes["fc1"].params["out_features"])
    assert tab.undo_stack.count() == steps              # the same value is no edit
    zoom = tab.canvas.transform().m11()
    tab.canvas.zoom(1.5)
    assert tab.canvas.transform().m11() > zoom


def test_import_a_model_and_a_python_file_on_a_worker(tab, qtbot, tmp_path):
    with qtbot.waitSignal(tab.import_runner.finished, timeout=120000):
        assert tab.import_model("small_cnn")
    assert "Imported small_cnn" in tab.message.text(), tab.message.text()
    assert tab.report.ok and len(tab.graph) > 5 and tab.weights
    tab.undo_stack.undo()
    assert list(tab.graph.nodes) == ["input"]
    good = tmp_path / "net.py"
    good.write_text("import torch.nn as nn\n\nclass Net(nn.Module):\n"
                    "    def __init__(self):\n        super().__init__()\n"
                    "        self.fc = nn.Linear(8, 3)\n\n"
                    "    def forward(self, x):\n        return self.fc(x).relu()\n")
    with qtbot.waitSignal(tab.import_runner.finished, timeout=120000):
        assert tab.import_model(f"{good}:Net", "8")
    assert [n.type for n in tab.graph.nodes.values()] == ["Input", "Linear", "ReLU"]
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('this file is broken')\n")
    with qtbot.waitSignal(tab.import_runner.finished, timeout=120000):
        assert tab.import_model(f"{bad}:Net")
    message = tab.message.text()
    assert "bad.py" in message and "Traceback" not in message, message
    assert [n.type for n in tab.graph.nodes.values()] == ["Input", "Linear", "ReLU"]
    assert not tab.import_model(f"{tmp_path / 'missing.py'}:Net")
    assert "does not exist" in tab.message.text()
    assert not tab.import_model("small_cnn", "3,0,3")
    assert "input shape" in tab.message.text()


def test_a_connection_picked_up_at_its_input_moves_or_goes(tab):
    tab.load_template("resnet_stack")
    tab.canvas.resetTransform()
    edge = next(e for e in tab.graph.edges if e.target == "stem_relu")
    target = tab.scene.nodes["stem_relu"]
    tab.canvas.centerOn(target)
    start = target.port_pos(0)
    mouse_drag(tab, start, start + QPointF(-30, 120))       # dropped on empty canvas
    assert edge not in tab.graph.edges
    assert any("stem_relu" in m and "not connected" in m for m in tab.problems.messages())
    tab.undo_stack.undo()
    assert edge in tab.graph.edges
    steps = (tab.undo_stack.index(), tab.undo_stack.count())
    mouse_drag(tab, start, start + QPointF(3, 2))            # put back: nothing changes
    assert edge in tab.graph.edges and (tab.undo_stack.index(), tab.undo_stack.count()) == steps
    assert tab.scene.edges[edge].isVisible()


def test_a_process_that_copied_blocks_exits_cleanly():
    """Copied blocks must not crash the process at exit (Qt deleting PySide's QMimeData after
    Python has shut down was a segfault after the test summary)."""
    import subprocess
    import sys

    code = ("from PySide6.QtWidgets import QApplication\n"
            "app = QApplication([])\n"
            "from playground.ui.tabs import builder_actions as a\n"
            "a.put_on_clipboard({'blocks': []})\n"
            "assert a.take_from_clipboard() == {'blocks': []}\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
