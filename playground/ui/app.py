"""Start the app: the window first, torch in the background.

torch takes seconds to import, so the window is shown before it is imported: no module of
``playground.ui`` imports torch at module level, and a background thread imports it right
after the window appears (``AppContext.torch_ready`` fires when it is done).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

_T0 = time.perf_counter()


def _configure_logging() -> None:
    """Tracebacks go to the app's log file (``<home>/logs/playground.log``), the same file the
    CLI writes; ``PLAYGROUND_LOG=1`` (or a level name) echoes them to the terminal too."""
    from playground.core import logs

    logs.configure(verbose=bool(os.environ.get("PLAYGROUND_LOG")))


def _warm_up_torch(appctx) -> None:
    def work() -> None:
        try:
            import torch  # noqa: F401
            import torchvision  # noqa: F401
        except Exception:  # noqa: BLE001 - reported on the UI thread
            logging.getLogger(__name__).exception("importing torch failed")
        appctx.torch_loaded = True
        appctx.torch_ready.emit()  # queued to the UI thread by Qt

    threading.Thread(target=work, name="torch-import", daemon=True).start()


def create_window(argv: list[str] | None = None):
    """The QApplication (created if needed) and a shown main window."""
    from PySide6.QtCore import QStandardPaths
    from PySide6.QtWidgets import QApplication

    from playground import APP_NAME

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    from playground.ui.jobs import collect_garbage_on_ui_thread

    collect_garbage_on_ui_thread(app)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("Model Playground")
    app.setOrganizationName("")
    if not os.environ.get("PLAYGROUND_HOME"):
        location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        if location:
            os.environ["PLAYGROUND_HOME"] = location
    from playground.ui.main_window import MainWindow

    window = MainWindow()
    return app, window


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] in (["--self-test"], ["--child"]):
        from playground.cli import main as cli_main  # model-playground --self-test

        return cli_main(sys.argv[1:])
    _configure_logging()
    app, window = create_window(argv)
    window.show()
    if os.environ.get("PLAYGROUND_STARTUP_PROBE"):
        # benchmarks/bench_ui.py measures launch → window shown with this line
        app.processEvents()
        print(f"window-shown {time.perf_counter() - _T0:.4f}", flush=True)
        if os.environ["PLAYGROUND_STARTUP_PROBE"] == "exit":
            window.shutdown()  # the tabs may have started loading their demo data
            return 0
    _warm_up_torch(window.appctx)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
