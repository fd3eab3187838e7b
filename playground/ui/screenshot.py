"""Render the app's tabs to PNG files, offscreen, exactly as a user would see them.

``python -m playground.ui.screenshot OUT.png --tab image|text|translate|speech [--page PAGE]``
opens the window on that tab, does what a user would do there, and saves the window:

- ``image``: trains the small CNN on the Shapes demo for a few epochs and classifies a
  generated star with Grad-CAM. Pages: ``predict`` (default), ``evaluation``, ``training``.
- ``text``: trains a tiny GPT on the built-in corpus (``demo:pydoc``), generates a
  continuation and opens its attention. Pages: ``attention`` (default), ``generate``,
  ``training``.
- ``translate``: the Text tab's Translate mode: trains a small Transformer on the built-in
  numbers demo (``demo:numbers-en-fr``), translates a number typed into the panel and shows
  its cross-attention. Pages: ``translate`` (default), ``training``, ``data``.
- ``builder``: the Builder with the LeNet-5 template, fc1's in_features set wrong (the red
  block, its "expected … got …" and the fix button in the property panel). Page ``canvas``.
- ``speech``: trains the keyword CNN on the spoken-digit demo and recognises a clip with the
  saliency overlay. Pages: ``audio`` (default), ``training``, ``evaluation``. The small set of
  clips shipped with the app is used unless ``--synthesise`` asks for the espeak-ng demo.

``--amount`` sets the training length (epochs, or iterations for text; the image tab keeps
the demo recipe's epochs unless given). ``make screenshot``
renders the README's images.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

PAGES = {
    "image": {"training": 0, "evaluation": 1, "predict": 2},
    "text": {"training": 0, "generate": 1, "attention": 2},
    "translate": {"data": 0, "training": 1, "translate": 2},
    "speech": {"audio": 0, "training": 1, "evaluation": 2},
    "builder": {"canvas": 0},
}
DEFAULT_PAGE = {"image": "predict", "text": "attention", "translate": "translate",
                "speech": "audio", "builder": "canvas"}
DEFAULT_AMOUNT = {"image": None, "text": 1000, "translate": 6, "speech": 6,
                  "builder": None}  # None: the recipe's
TAB_TITLES = {"image": "Image recognition", "text": "Text", "translate": "Text",
              "speech": "Speech", "builder": "Builder"}


class GaveUp(Exception):
    """Waiting stopped early: :data:`give_up` named a reason (a job failed)."""


#: Set by the self-test: returns why waiting is pointless (a job already failed), or None, so a
#: broken installation fails in seconds instead of after each wait's time limit.
give_up: Callable[[], str | None] | None = None


def _wait(app, predicate, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        reason = give_up() if give_up is not None else None
        if reason:
            raise GaveUp(reason)
        if time.monotonic() > end:
            raise TimeoutError("the app did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def _settle(app, seconds: float = 1.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.05)


def _open(tab_name: str):
    """The app's window, shown at a fixed size on ``tab_name``, with torch already loaded."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PLAYGROUND_HOME", tempfile.mkdtemp(prefix="playground-shot-"))
    import torch  # noqa: F401 - loaded up front, as the app's warm-up thread does
    from PySide6.QtCore import QSettings

    from playground.ui.app import create_window

    # a fresh window every time, and the user's own window settings left alone
    settings_dir = tempfile.mkdtemp(prefix="playground-shot-settings-")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, settings_dir)
    app, window = create_window()
    window.resize(1500, 950)
    tab = window.tab_widgets[TAB_TITLES[tab_name]]
    window.tabs.setCurrentWidget(tab)
    window.show()
    window.appctx.torch_loaded = True
    window.appctx.torch_ready.emit()
    return app, window, tab


def _image(app, tab, epochs: int | None) -> QWidget:
    import numpy as np
    from PIL import Image

    from playground.vision.demo import render_shape

    _wait(app, lambda: tab.view.class_table.rowCount() > 0, 60)
    if epochs:
        tab.view.form.widget_for("epochs").setValue(epochs)
    tab.start_training()
    _wait(app, lambda: not tab.train_runner.is_busy(), 600)
    path = os.path.join(tempfile.mkdtemp(), "star.png")
    Image.fromarray(render_shape("star", np.random.default_rng(7), size=160)).save(path)
    tab.view.gradcam_check.setChecked(True)
    tab.predict_files([path])
    _wait(app, lambda: not tab.predict_runner.is_busy() and tab.view.bars.items(), 60)
    return tab.view


def _text(app, tab, iters: int, prompt: str = "The return statement ") -> QWidget:
    mode = tab.generate
    view = mode.view
    _wait(app, lambda: mode.tokenizer is not None, 60)
    for name, value in (("n_layer", 2), ("n_head", 4), ("n_embd", 64), ("block_size", 64),
                        ("batch_size", 16), ("max_iters", iters), ("warmup_iters", 20),
                        ("learning_rate", 3e-3), ("min_lr", 3e-4),
                        ("eval_interval", max(1, iters // 5)), ("eval_iters", 5),
                        ("sample_tokens", 120)):
        view.form.widget_for(name).setValue(value)
    mode.start_training()
    _wait(app, lambda: not mode.train_runner.is_busy(), 900)
    view.prompt_edit.setPlainText(prompt)
    view.options_form.widget_for("max_new_tokens").setValue(200)
    view.options_form.widget_for("seed").setValue(7)
    mode.generate()
    _wait(app, lambda: not mode.generate_runner.is_busy(), 120)
    _wait(app, lambda: view.attention.has_maps(), 60)
    view.attention.select(1, 0)
    return view


def _translate(app, tab, epochs: int, text: str = "seven thousand three hundred and forty-two"
               ) -> QWidget:
    tab.modes.setCurrentWidget(tab.translate_page)
    mode = tab.translate
    view = mode.view
    _wait(app, lambda: mode.data.preview is not None, 60)
    form = view.form
    for name, value in (("n_layer", 2), ("n_head", 4), ("n_embd", 128), ("ff_dim", 512),
                        ("batch_size", 64), ("epochs", epochs), ("learning_rate", 2e-3),
                        ("val_sentences", 200), ("samples", 6)):
        form.widget_for(name).setValue(value)
    form.widget_for("tokenizer").setText("bpe:2000")
    mode.start_training()
    _wait(app, lambda: not mode.train_runner.is_busy(), 900)
    mode.translate(text)
    _wait(app, lambda: mode.panel.result is not None and not mode.translate_runner.is_busy()
          and mode.panel.result["source"] == text, 120)
    _wait(app, lambda: view.panel.attention.has_maps(), 60)
    return view


def _speech(app, tab, epochs: int, word: str = "seven") -> QWidget:
    from playground.speech.synth import ASSETS_DIR

    view = tab.view
    _wait(app, lambda: view.class_table.rowCount() > 0, 300)
    view.keyword_form.widget_for("epochs").setValue(epochs)
    tab.start_training()
    _wait(app, lambda: not tab.train_runner.is_busy(), 900)
    clips = sorted((ASSETS_DIR / word).iterdir())
    tab.clip.load_file(str(clips[len(clips) // 2]))
    _wait(app, lambda: tab.clip.last_prediction is not None
          and not tab.clip.predict_runner.is_busy(), 120)
    return view


def _builder(app, tab, _amount) -> QWidget:
    tab.load_template("lenet5")
    tab.set_param("fc1", "in_features", 256)       # a mismatch: red, expected/got, a fix
    tab.focus_block("fc1")
    _settle(app, 0.3)
    tab.canvas.fit()
    return tab


def render(out_png: str, tab_name: str = "image", page: str | None = None,
           amount: int | None = None, synthesise: bool = False) -> str:
    """Drive ``tab_name`` as a user would, show ``page`` and save the window to ``out_png``."""
    page = page or DEFAULT_PAGE[tab_name]
    if page not in PAGES[tab_name]:
        raise ValueError(f"the {tab_name} tab has no page {page!r}; "
                         f"choose one of {', '.join(PAGES[tab_name])}")
    amount = amount or DEFAULT_AMOUNT[tab_name]
    if tab_name == "speech" and not synthesise:
        from playground.speech import synth

        synth.espeak_path = lambda: None  # this process only: use the shipped clips
    app, window, tab = _open(tab_name)
    drive = {"image": _image, "text": _text, "translate": _translate, "speech": _speech,
             "builder": _builder}
    view = drive[tab_name](app, tab, amount)
    if hasattr(view, "pages"):
        view.pages.setCurrentIndex(PAGES[tab_name][page])
    _settle(app)
    window.grab().save(out_png)
    window.close()
    return out_png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--tab", choices=tuple(PAGES), default="image")
    parser.add_argument("--page", help="which page of the tab to show (see above)")
    parser.add_argument("--amount", type=int,
                        help="training length: epochs (image, translate, speech) or iterations "
                             "(text)")
    parser.add_argument("--synthesise", action="store_true",
                        help="speech: use the larger espeak-ng demo when espeak-ng is installed")
    args = parser.parse_args(argv)
    try:
        print(render(args.out, args.tab, args.page, args.amount, args.synthesise))
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
