"""The main window: a tab per task, menus, the device toolbar and the status bar."""

from __future__ import annotations

import logging

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSpinBox,
    QTabWidget,
    QToolBar,
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


def tab_factories():
    """(title, factory) of every working tab, in order."""
    from playground.ui.tabs.image_tab import ImageTab

    factories = [("Image recognition", ImageTab)]
    try:
        from playground.ui.tabs.text_tab import TextTab

        factories.append(("Text", TextTab))
    except ImportError:
        pass
    try:
        from playground.ui.tabs.speech_tab import SpeechTab

        factories.append(("Speech", SpeechTab))
    except ImportError:
        pass
    try:
        from playground.ui.tabs.runs_tab import RunsTab

        factories.append(("Runs", RunsTab))
    except ImportError:
        pass
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
        for title, factory in tab_factories():
            widget = factory(self.appctx)
            self.tab_widgets[title] = widget
            self.tabs.addTab(widget, title)
        self._build_toolbar()
        self._build_menus()
        self.appctx.torch_ready.connect(self._on_torch_ready)
        self._memory_timer = QTimer(self)
        self._memory_timer.setInterval(1000)
        self._memory_timer.timeout.connect(self._update_memory)
        settings = app_settings()
        geometry = settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
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

    def _on_torch_ready(self) -> None:
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
        if image_tab is not None:
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

    def about_text(self) -> str:
        import platform
        import sys

        from PySide6 import __version__ as pyside_version

        lines = [f"<b>Model Playground {__version__}</b>",
                 "Hands-on deep learning with PyTorch: train, inspect and use real models.",
                 "", f"Python {platform.python_version()} · PySide6 {pyside_version}"]
        if "torch" in sys.modules:
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
        settings = app_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/tab", self.tabs.currentIndex())
        if jobs.active_runners():
            self.status.show_notice("info", "Stopping running jobs…")
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Cancel and join every job and let each tab release what it holds (audio, models)."""
        jobs.shutdown_all()
        for widget in self.tab_widgets.values():
            closer = getattr(widget, "shutdown", None)
            if closer is not None:
                closer()


