"""The main window: a tab per task, menus, the device toolbar and the status bar.

Failures are shown, not hidden: a tab whose module cannot be imported (or whose constructor
fails) is replaced by a :class:`BrokenTab` that shows the error and what to do, and a failed
``import torch`` is an error in the status bar (``torch_loaded`` stays False), never "ready".
"""

from __future__ import annotations

import functools
import importlib
import logging
import traceback

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QSpinBox,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from playground import APP_NAME, __version__
from playground.ui import jobs
from playground.ui.appctx import AppContext
from playground.ui.statusbar import StatusBar

log = logging.getLogger(__name__)


def app_settings() -> QSettings:
    """The app's own settings file (window geometry, last tab)."""
    return QSettings(APP_NAME, APP_NAME)


# (title, module, class) of every tab, in order
TABS = [
    ("Image recognition", "playground.ui.tabs.image_tab", "ImageTab"),
    ("Text", "playground.ui.tabs.text_tab", "TextTab"),
    ("Speech", "playground.ui.tabs.speech_tab", "SpeechTab"),
    ("Builder", "playground.ui.tabs.builder_tab", "BuilderTab"),
    ("Runs", "playground.ui.tabs.runs_tab", "RunsTab"),
]


def what_to_do(exc: BaseException) -> str:
    """One sentence on how to fix a failed import of a tab or of torch."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        package = exc.name.split(".")[0]
        if package != "playground":
            return (f"The Python package '{package}' is missing: install the app's "
                    "requirements again (in the app's folder: pip install -e . with the "
                    "constraints file the README names), then restart the app.")
    return ("Restart the app; if it happens again, reinstall it, or report the problem with "
            "the details (Details… in the status bar, or the log).")


class BrokenTab(QWidget):
    """Stands in for a tab that could not be built: the error, what to do, the traceback."""

    def __init__(self, appctx, *, title: str, error: BaseException, details: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.error = error
        self.message = (f"The {title} tab could not be loaded: {type(error).__name__}: "
                        f"{error}. {what_to_do(error)} The other tabs work.")
        layout = QVBoxLayout(self)
        label = QLabel(self.message)
        label.setWordWrap(True)
        label.setStyleSheet("color: #b00020; font-size: 11pt;")
        label.setTextInteractionFlags(label.textInteractionFlags()
                                      | Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(label)
        self.details = QPlainTextEdit(details)
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        layout.addWidget(self.details, 1)
        self.details_text = details


def _broken(title: str, exc: BaseException, details: str):
    return functools.partial(BrokenTab, title=title, error=exc, details=details)


def tab_factories():
    """(title, factory) of every tab, in order; ``factory(appctx) -> QWidget``.

    A tab whose module fails to import gets a factory of a :class:`BrokenTab` instead.
    """
    factories = []
    for title, module, name in TABS:
        try:
            factory = getattr(importlib.import_module(module), name)
        except Exception as exc:  # noqa: BLE001 - shown in the tab, logged with its traceback
            log.exception("the %s tab could not be imported", title)
            factory = _broken(title, exc, traceback.format_exc())
        factories.append((title, factory))
    return factories


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Model Playground")
        self.appctx = AppContext(self)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.appctx.notice.connect(self.status.show_notice)
        self.appctx.progress.connect(self.status.show_progress)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self.tab_widgets: dict[str, QWidget] = {}
        self.torch_error: str | None = None
        # connected before any tab: a failed import is known before the tabs react
        self.appctx.torch_ready.connect(self._check_torch)
        for title, factory in tab_factories():
            try:
                widget = factory(self.appctx)
            except Exception as exc:  # noqa: BLE001 - the tab shows it, the rest still works
                log.exception("the %s tab could not be built", title)
                widget = BrokenTab(self.appctx, title=title, error=exc,
                                   details=traceback.format_exc())
            self.tab_widgets[title] = widget
            self.tabs.addTab(widget, title)
        self._build_toolbar()
        self._build_menus()
        builder = self.tab_widgets.get("Builder")
        if builder is not None and hasattr(builder, "train_requested"):
            builder.train_requested.connect(self.train_graph_in)
        self.appctx.torch_ready.connect(self._on_torch_ready)
        broken = [w for w in self.tab_widgets.values() if isinstance(w, BrokenTab)]
        if broken:
            self.appctx.error(broken[0].message if len(broken) == 1 else
                              f"{len(broken)} tabs could not be loaded: "
                              f"{', '.join(w.title for w in broken)}. See each tab.",
                              "\n\n".join(w.details_text for w in broken))
        self._memory_timer = QTimer(self)
        self._memory_timer.setInterval(1000)
        self._memory_timer.timeout.connect(self._update_memory)
        settings = app_settings()
        geometry = settings.value("window/geometry")
        # A hand-edited or damaged settings file can hold anything here: only bytes that Qt
        # accepts as a saved geometry are used, anything else gives the default size.
        if not (isinstance(geometry, (bytes, bytearray, QByteArray))
                and self.restoreGeometry(QByteArray(geometry))):
            if geometry is not None:
                log.warning("ignoring the saved window geometry (%r): not a saved geometry",
                            type(geometry).__name__)
            self.resize(1400, 900)
        index = settings.value("window/tab", 0, type=int)
        if 0 <= index < self.tabs.count():
            self.tabs.setCurrentIndex(index)

    # toolbar --------------------------------------------------------------------------------
    def _build_toolbar(self) -> None:
        bar = QToolBar("Device")
        bar.setObjectName("device-toolbar")
        bar.setMovable(False)
        self.addToolBar(bar)
        bar.addWidget(QLabel(" Device: "))
        self.device_combo = QComboBox()
        self.device_combo.setMinimumWidth(260)
        self.device_combo.addItem("auto (best available)", "auto")
        self.device_combo.addItem("cpu", "cpu")
        self.device_combo.setToolTip("Where models train and run. 'auto' picks the first CUDA GPU, "
                                     "else Apple's MPS, else the CPU.")
        self.device_combo.currentIndexChanged.connect(self._on_device_changed)
        bar.addWidget(self.device_combo)
        bar.addWidget(QLabel("  CPU threads: "))
        self.threads_spin = QSpinBox()
        self.threads_spin.setRange(0, 256)
        self.threads_spin.setSpecialValueText("default")
        self.threads_spin.setToolTip("Threads torch uses on the CPU (0 = torch's default).")
        self.threads_spin.valueChanged.connect(self._on_threads_changed)
        bar.addWidget(self.threads_spin)
        self.memory_label = QLabel("")
        self.memory_label.setToolTip("GPU memory in use by the app / total")
        bar.addWidget(self.memory_label)

    def _check_torch(self) -> None:
        """Runs first on ``torch_ready``: if torch cannot be imported, say so and stay unready."""
        try:
            import torch  # noqa: F401 - already imported by the warm-up thread when it worked
            import torchvision  # noqa: F401
        except Exception as exc:  # noqa: BLE001 - shown to the user; the app stays open
            log.exception("importing torch failed")
            self.appctx.torch_loaded = False  # the tabs' torch_ready handlers do nothing
            self.torch_error = (f"PyTorch could not be loaded ({type(exc).__name__}: {exc}), "
                                "so nothing can be trained or predicted. "
                                f"{what_to_do(exc)}")
            self.appctx.error(self.torch_error, traceback.format_exc())

    def _on_torch_ready(self) -> None:
        if self.torch_error is not None:
            return
        from playground.core.device import list_devices

        try:
            devices = list_devices()
        except Exception as exc:  # noqa: BLE001 - shown to the user, app stays usable
            self.appctx.error(f"Could not list devices: {exc}")
            return
        current = self.device_combo.currentData()
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        self.device_combo.addItem("auto (best available)", "auto")
        for info in devices:
            self.device_combo.addItem(info.title, info.name)
        index = max(0, self.device_combo.findData(current))
        self.device_combo.setCurrentIndex(index)
        self.device_combo.blockSignals(False)
        self._on_device_changed()

    def _on_device_changed(self) -> None:
        name = self.device_combo.currentData() or "auto"
        self.appctx.set_device(name)
        if self.appctx.torch_loaded:
            from playground.core.device import resolve_device

            try:
                is_cuda = resolve_device(name).type == "cuda"
            except Exception:  # noqa: BLE001 - an absent device shows no memory figure
                is_cuda = False
            if is_cuda:
                self._memory_timer.start()
                self._update_memory()
                return
        self._memory_timer.stop()
        self.memory_label.setText("")

    def _update_memory(self) -> None:
        from playground.core.device import memory_in_use, resolve_device

        try:
            used, total = memory_in_use(resolve_device(self.appctx.device))
        except Exception:  # noqa: BLE001
            return
        if total:
            self.memory_label.setText(f"  GPU memory: {used / 2**30:.1f} / {total / 2**30:.0f} GiB")

    def _on_threads_changed(self, value: int) -> None:
        if value > 0 and self.appctx.torch_loaded:
            from playground.core.device import set_cpu_threads

            set_cpu_threads(value)

    # menus ----------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        image_tab = self.tab_widgets.get("Image recognition")
        if image_tab is not None and not isinstance(image_tab, BrokenTab):
            open_image = QAction("Open &image to predict…", self)
            open_image.setShortcut(QKeySequence.StandardKey.Open)
            open_image.triggered.connect(lambda: self._show(image_tab, "open_images"))
            file_menu.addAction(open_image)
            open_folder = QAction("Open image &folder (dataset)…", self)
            open_folder.setShortcut(QKeySequence("Ctrl+Shift+O"))
            open_folder.triggered.connect(lambda: self._show(image_tab, "open_folder"))
            file_menu.addAction(open_folder)
            file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        view_menu = self.menuBar().addMenu("&View")
        for i in range(self.tabs.count()):
            action = QAction(self.tabs.tabText(i), self)
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.triggered.connect(lambda _=False, i=i: self.tabs.setCurrentIndex(i))
            view_menu.addAction(action)
        view_menu.addSeparator()
        full = QAction("&Full screen", self)
        full.setShortcut(QKeySequence.StandardKey.FullScreen)
        full.setCheckable(True)
        full.toggled.connect(lambda on: self.showFullScreen() if on else self.showNormal())
        view_menu.addAction(full)

        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About Model Playground", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    def _show(self, tab: QWidget, method: str) -> None:
        self.tabs.setCurrentWidget(tab)
        getattr(tab, method)()

    def task_tab(self, task: str, *, show: bool = False) -> QWidget | None:
        """The tab that trains runs of ``task`` (None if there is none or it failed to load);
        ``show`` makes it the current tab. The Runs tab hands Resume / Start from to it."""
        title = {"image": "Image recognition", "text": "Text", "translate": "Text",
                 "speech": "Speech"}.get(task)
        tab = self.tab_widgets.get(title) if title else None
        if tab is None or isinstance(tab, BrokenTab):
            return None
        if show:
            self.tabs.setCurrentWidget(tab)
        return tab

    def train_graph_in(self, task: str, model: str) -> None:
        """The Builder's "Train in …": show ``task``'s tab with the graph ``model`` chosen."""
        from playground.ui.tabs.builder_actions import select_model

        tab = self.task_tab(task, show=True)
        if tab is None or not select_model(tab, task, model):
            self.appctx.error(f"The {task} tab could not take {model}: it failed to load or "
                              "has no model menu for it.")

    def about_text(self) -> str:
        import platform
        import sys

        from PySide6 import __version__ as pyside_version

        lines = [f"<b>Model Playground {__version__}</b>",
                 "Hands-on deep learning with PyTorch: train, inspect and use real models.",
                 "", f"Python {platform.python_version()} · PySide6 {pyside_version}"]
        if self.torch_error is not None:
            lines.append(self.torch_error)
        elif "torch" in sys.modules:
            import torch
            import torchvision

            from playground.core.device import resolve_device

            lines.append(f"torch {torch.__version__} · torchvision {torchvision.__version__}")
            try:
                import torchaudio

                lines.append(f"torchaudio {torchaudio.__version__}")
            except Exception:  # noqa: BLE001 - optional at runtime
                pass
            lines.append(f"Device: {self.appctx.device} → {resolve_device(self.appctx.device)}")
        else:
            lines.append("torch is still loading…")
        return "<br>".join(lines)

    def show_about(self) -> None:
        QMessageBox.about(self, "About Model Playground", self.about_text())

    # closing --------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        # An exception escaping a Qt override crashes this PySide6 (shiboken segfaults while
        # reporting it), so closing logs whatever goes wrong and still closes the window.
        try:
            settings = app_settings()
            settings.setValue("window/geometry", self.saveGeometry())
            settings.setValue("window/tab", self.tabs.currentIndex())
            if jobs.active_runners():
                self.status.show_notice("info", "Stopping running jobs…")
            self.shutdown()
        except Exception:  # noqa: BLE001 - see above
            log.exception("closing the window did not shut down cleanly")
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Cancel and join every job and let each tab release what it holds (audio, models)."""
        jobs.shutdown_all()
        for widget in self.tab_widgets.values():
            closer = getattr(widget, "shutdown", None)
            if closer is not None:
                closer()


