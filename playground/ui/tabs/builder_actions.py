"""What the Builder tab does with files, imports and other tabs.

- Open/Save graph JSON (the core's versioned format; a bad file is one sentence).
- Export PyTorch source (:func:`playground.builder.codegen.write_python`: written, never run).
- Import model…: a registry model name (``resnet18``, ``torchvision:resnet50``) or
  ``FILE.py:ClassName``, traced by :mod:`playground.builder.import_fx` on a worker thread (a
  user's file in its own process); the graph comes back as JSON data, the weights as a
  safetensors file.
- Train in…: :func:`playground.builder.registry.register_graph` puts the graph in the task's
  registry; the tab's ``train_requested`` asks the window to show that tab with it chosen.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import tempfile
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from playground.builder.graph import Graph
from playground.core import events as ev
from playground.core.errors import PlaygroundError

if TYPE_CHECKING:
    from playground.ui.tabs.builder_tab import BuilderTab

log = logging.getLogger(__name__)

FRAGMENT_MIME = "application/x-playground-blocks"
GRAPH_FILTER = "Model Playground graph (*.json);;All files (*)"


# clipboard ----------------------------------------------------------------------------------
def put_on_clipboard(fragment: dict[str, Any]) -> None:
    mime = QMimeData()
    text = json.dumps(fragment)
    mime.setData(FRAGMENT_MIME, text.encode("utf-8"))
    mime.setText(text)
    QApplication.clipboard().setMimeData(mime)
    global _clipboard_released_at_exit
    if not _clipboard_released_at_exit:
        atexit.register(_release_clipboard)
        _clipboard_released_at_exit = True


_clipboard_released_at_exit = False


def _release_clipboard() -> None:
    """At exit, while Python still runs: swap our QMimeData for plain text Qt owns.

    Left in place, Qt deletes the clipboard's QMimeData from a C++ exit handler after Python
    has shut down, and PySide's wrapper of it crashes the process (seen as a segfault after
    the test summary). Other programs keep the copied blocks as JSON text.
    """
    app = QApplication.instance()
    if app is None:
        return
    clipboard = app.clipboard()
    mime = clipboard.mimeData()
    if mime is not None and mime.hasFormat(FRAGMENT_MIME):
        clipboard.setText(mime.text())


def take_from_clipboard() -> dict[str, Any] | None:
    """Blocks copied in this app (or another window of it); None if the clipboard has none."""
    mime = QApplication.clipboard().mimeData()
    if mime is None or not mime.hasFormat(FRAGMENT_MIME):
        return None
    try:
        data = json.loads(bytes(mime.data(FRAGMENT_MIME).data()).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


# files --------------------------------------------------------------------------------------
def _ask(tab: BuilderTab, save: bool, title: str, filt: str, suggested: str = "") -> str | None:
    if save:
        path, _ = QFileDialog.getSaveFileName(tab, title, suggested, filt)
    else:
        path, _ = QFileDialog.getOpenFileName(tab, title, "", filt)
    return path or None


def open_graph(tab: BuilderTab, path: str | None = None) -> bool:
    path = path or _ask(tab, False, "Open graph", GRAPH_FILTER)
    if not path:
        return False
    from playground.builder.build import weights_path

    try:
        graph = Graph.load(path)
    except PlaygroundError as exc:
        tab.say(str(exc), "error")
        return False
    weights = weights_path(path, graph)
    if weights is not None and not weights.is_file():
        tab.say(f"{os.path.basename(path)} names the weights file {graph.weights}, which is "
                "not next to it; the blocks start with fresh weights.", "warning")
        weights = None
    ok = tab.replace_graph(graph, f"Open {os.path.basename(path)}",
                           str(weights) if weights else None)
    if ok:
        tab.say(f"Opened {path} ({len(graph)} blocks).")
    return ok


def save_graph(tab: BuilderTab, path: str | None = None) -> bool:
    path = path or _ask(tab, True, "Save graph", GRAPH_FILTER, f"{tab.graph.name}.json")
    if not path:
        return False
    graph = tab.graph.copy()
    graph.weights = None
    try:
        graph.save(path)
    except OSError as exc:
        tab.say(f"Could not save {path}: {exc.strerror or exc}; choose another folder.",
                "error")
        return False
    tab.say(f"Saved {path}.")
    return True


def export_python(tab: BuilderTab, path: str | None = None) -> bool:
    from playground.builder.codegen import class_name

    path = path or _ask(tab, True, "Export PyTorch source", "Python source (*.py)",
                        f"{tab.graph.name}.py")
    if not path:
        return False
    try:
        from playground.builder.codegen import write_python

        write_python(tab.graph, path)
    except PlaygroundError as exc:
        tab.say(f"Cannot export yet: {exc}", "error")
        return False
    except OSError as exc:
        tab.say(f"Could not write {path}: {exc.strerror or exc}; choose another folder.",
                "error")
        return False
    tab.say(f"Wrote {path}: class {class_name(tab.graph)}(nn.Module).")
    return True


# import -------------------------------------------------------------------------------------
class ImportDialog(QDialog):
    """A registry model by name, or an nn.Module class from a Python file."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import model")
        self.registry_radio = QRadioButton("A model the app knows")
        self.file_radio = QRadioButton("An nn.Module class from a Python file")
        self.registry_radio.setChecked(True)
        self.model_combo = QComboBox()
        self.model_combo.setEditable(True)
        self.model_combo.addItems(_known_models())
        self.model_combo.setToolTip("A registry model, or torchvision:NAME for any torchvision "
                                    "classifier (random weights).")
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("my_model.py")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.class_edit = QLineEdit()
        self.class_edit.setPlaceholderText("Net")
        self.shape_edit = QLineEdit()
        self.shape_edit.setPlaceholderText("default (e.g. 3,224,224)")
        note = QLabel("A file is imported and traced in its own process, never inside the app.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #607d8b;")
        form = QFormLayout()
        form.addRow(self.registry_radio)
        form.addRow("Model", self.model_combo)
        form.addRow(self.file_radio)
        row = QHBoxLayout()
        row.addWidget(self.file_edit, 1)
        row.addWidget(browse)
        form.addRow("File", row)
        form.addRow("Class", self.class_edit)
        form.addRow("Input shape", self.shape_edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Python file", "", "Python (*.py)")
        if path:
            self.file_edit.setText(path)
            self.file_radio.setChecked(True)

    def spec(self) -> str:
        if self.file_radio.isChecked():
            return f"{self.file_edit.text().strip()}:{self.class_edit.text().strip()}"
        return self.model_combo.currentText().strip()


def _known_models() -> list[str]:
    names: list[str] = []
    try:
        from playground.speech import models as speech_models
        from playground.text import models as text_models
        from playground.vision import models as vision_models

        for reg in (vision_models.REGISTRY, speech_models.REGISTRY, text_models.TEXT_MODELS):
            names += [n for n in reg.names() if not n.startswith("graph:")]
    except Exception:  # noqa: BLE001 - the menu is a convenience; any name can be typed
        log.exception("listing registry models for the import dialog failed")
    return names + ["torchvision:resnet18", "torchvision:resnet50", "torchvision:alexnet"]


def import_job(spec: str, input_shape: tuple[int, ...] | None, out_dir: str):
    """A job (Qt-free): import ``spec`` and return the graph as JSON data and the weights'
    file (``FILE.py:Class`` is traced in a child process by the core)."""
    def job(ctx) -> dict[str, Any]:
        from playground.builder import import_fx

        ctx.emit(ev.Log(f"Importing {spec}…"))
        if ".py:" in spec:
            graph, weights = import_fx.import_python_file(spec, input_shape)
        else:
            graph, weights = import_fx.import_model(spec, input_shape)
        ctx.check_cancelled()
        path = None
        if weights:
            from playground.core.checkpoint import save_weights

            path = os.path.join(out_dir, "weights.safetensors")
            save_weights(weights, path, metadata={"format": "model-playground/graph-weights"})
        return {"graph": graph.to_dict(), "weights": path, "spec": spec}
    return job


def start_import(tab: BuilderTab, spec: str | None = None, input_shape: str = "") -> bool:
    if tab.import_runner.is_busy():
        tab.say("An import is already running; wait for it to finish.", "warning")
        return False
    if spec is None:
        dialog = ImportDialog(tab)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        spec, input_shape = dialog.spec(), dialog.shape_edit.text()
    spec = spec.strip()
    if not spec or spec.startswith(":") or spec.endswith(":"):
        tab.say("Give a model name (such as resnet18) or a Python file and a class name.",
                "error")
        return False
    if ".py:" in spec or spec.endswith(".py"):
        from playground.builder.import_fx import parse_file_spec

        try:
            parse_file_spec(spec)                  # the file exists, the class is a name
        except PlaygroundError as exc:
            tab.say(str(exc), "error")
            return False
    shape = None
    if input_shape.strip():
        from playground.builder.shapes import parse_shape

        try:
            shape = parse_shape(input_shape)
        except PlaygroundError as exc:
            tab.say(str(exc), "error")
            return False
    out_dir = tempfile.mkdtemp(prefix="playground-import-")
    tab.import_runner.start(import_job(spec, shape, out_dir), "cpu")
    tab.say(f"Importing {spec} with torch.fx…")
    return True


def finish_import(tab: BuilderTab, event: ev.Event) -> None:
    if isinstance(event, ev.Failed):
        tab.say(event.message, "error")
        return
    if not isinstance(event, ev.Finished) or event.stopped or not isinstance(event.result, dict):
        tab.say("The import was stopped.")
        return
    try:
        graph = Graph.from_dict(event.result["graph"], "the imported model")
    except PlaygroundError as exc:
        tab.say(str(exc), "error")
        return
    if tab.replace_graph(graph, f"Import {event.result['spec']}", event.result.get("weights")):
        tab.say(f"Imported {event.result['spec']}: {len(graph)} blocks"
                + (" with its weights (kept where a block is unchanged)."
                   if event.result.get("weights") else "."))


# training in another tab --------------------------------------------------------------------
def train_in(tab: BuilderTab, task: str) -> str | None:
    """Register the graph in ``task``'s registry (image, keywords, text) and ask the window
    to show it there; returns the entry's name, or None with a sentence on what to fix."""
    from playground.builder.registry import register_graph
    from playground.ui.tabs.builder_tab import TRAIN_TASKS

    report = tab.report
    if report is not None and report.errors:
        first = report.errors[0]
        more = len(report.errors) - 1
        tab.say(f"Fix the network before training it: {first.message}"
                + (f" ({more} more problem{'s' * (more != 1)} in the list.)" if more else ""),
                "error")
        if first.node:
            tab.focus_block(first.node)
        return None
    try:
        entry = register_graph(tab.graph, task, tab.graph.name, weights=tab.weights)
    except PlaygroundError as exc:
        tab.say(str(exc), "error")
        return None
    tab_task = next(t for k, _, t in TRAIN_TASKS if k == task)
    title = next(title for k, title, _ in TRAIN_TASKS if k == task)
    tab.say(f"{entry.name} is now a model of {title}: press Train there.")
    tab.train_requested.emit(tab_task, entry.name)
    return entry.name


def model_form(task_tab: QWidget, task: str):
    """The form whose ``model`` menu trains ``task`` in ``task_tab`` (None if unknown)."""
    if task == "image":
        return getattr(getattr(task_tab, "view", None), "form", None)
    if task == "speech":
        return getattr(getattr(task_tab, "view", None), "keyword_form", None)
    if task == "text":
        mode = getattr(task_tab, "generate", None)
        modes = getattr(task_tab, "modes", None)
        if modes is not None and mode is not None:
            modes.setCurrentWidget(mode)
        return getattr(getattr(mode, "view", None), "form", None)
    return None


def select_model(task_tab: QWidget | None, task: str, name: str) -> bool:
    """Choose ``name`` in the model menu of ``task_tab`` (the window's "Train in" hook)."""
    form = model_form(task_tab, task) if task_tab is not None else None
    if form is None:
        return False
    form.refresh_choices()
    combo = form.widget_for("model")
    index = combo.findData(name)
    if index < 0:
        return False
    combo.setCurrentIndex(index)
    return True
