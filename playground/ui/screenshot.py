"""Render the app to PNG files, offscreen, exactly as a user would see it.

``python -m playground.ui.screenshot OUT.png`` opens the window, trains the small CNN on the
Shapes demo for a few epochs, classifies a generated image with Grad-CAM, and saves the window
(the README's screenshot). ``--page evaluation`` shows the confusion matrix page instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def _wait(app, predicate, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError("the app did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def render_image_tab(out: str, page: str = "predict", epochs: int = 4) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PLAYGROUND_HOME", tempfile.mkdtemp(prefix="playground-shot-"))
    import numpy as np
    import torch  # noqa: F401 - loaded up front, as the app's warm-up thread does
    import torchvision  # noqa: F401
    from PIL import Image

    from playground.ui.app import create_window

    app, window = create_window()
    window.resize(1500, 950)
    window.show()
    window.appctx.torch_loaded = True
    window.appctx.torch_ready.emit()
    tab = window.tab_widgets["Image recognition"]
    _wait(app, lambda: tab.view.class_table.rowCount() > 0, 60)
    form = tab.view.form
    form.widget_for("epochs").setValue(epochs)
    form.widget_for("image_size").setValue(48)
    tab.start_training()
    _wait(app, lambda: not tab.train_runner.is_busy(), 600)
    from playground.vision.demo import render_shape

    path = os.path.join(tempfile.mkdtemp(), "star.png")
    Image.fromarray(render_shape("star", np.random.default_rng(7), size=160)).save(path)
    tab.view.gradcam_check.setChecked(True)
    tab.predict_files([path])
    _wait(app, lambda: not tab.predict_runner.is_busy() and tab.view.bars.items(), 60)
    pages = {"training": 0, "evaluation": 1, "predict": 2}
    if page == "training":
        tab.view.pages.setCurrentIndex(0)
    else:
        tab.view.pages.setCurrentIndex(pages[page])
    for _ in range(20):
        app.processEvents()
        time.sleep(0.05)
    window.grab().save(out)
    window.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--page", choices=("training", "evaluation", "predict"),
                        default="predict")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    render_image_tab(args.out, args.page, args.epochs)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
