"""Render the Speech tab to a PNG file, offscreen, as a user would see it.

``python -m playground.ui.screenshot_speech OUT.png`` opens the window on the Speech tab,
trains the keyword CNN briefly on the spoken-digit demo, drops a digit clip and saves the
window showing the chosen page: ``audio`` (default: waveform, spectrogram with the saliency
overlay, probabilities), ``training`` or ``evaluation``. ``--shipped`` uses the small set of
clips shipped with the app even when espeak-ng could synthesise the larger demo.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

PAGES = {"audio": 0, "training": 1, "evaluation": 2}


def _wait(app, predicate, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError("the app did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def _settle(app, seconds: float = 1.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.05)


def render_speech_tab(out_png: str, page: str = "audio", epochs: int = 6,
                      word: str = "seven", shipped: bool = True) -> str:
    """Train a keyword model for ``epochs``, recognise a clip of ``word``, save ``out_png``."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PLAYGROUND_HOME", tempfile.mkdtemp(prefix="playground-shot-"))
    import torch  # noqa: F401 - loaded up front, as the app's warm-up thread does

    if shipped:
        from playground.speech import synth

        synth.espeak_path = lambda: None  # this process only: use the shipped clips
    from playground.speech.synth import ASSETS_DIR
    from playground.ui.app import create_window

    app, window = create_window()
    window.resize(1500, 950)
    tab = window.tab_widgets["Speech"]
    window.tabs.setCurrentWidget(tab)
    window.show()
    window.appctx.torch_loaded = True
    window.appctx.torch_ready.emit()
    view = tab.view
    _wait(app, lambda: view.class_table.rowCount() > 0, 300)
    form = view.keyword_form
    form.widget_for("epochs").setValue(epochs)
    tab.start_training()
    _wait(app, lambda: not tab.train_runner.is_busy(), 900)
    clips = sorted((ASSETS_DIR / word).iterdir())
    tab.clip.load_file(str(clips[len(clips) // 2]))
    _wait(app, lambda: tab.clip.last_prediction is not None and not tab.clip.predict_runner
          .is_busy(), 120)
    view.pages.setCurrentIndex(PAGES[page])
    _settle(app)
    window.grab().save(out_png)
    window.close()
    return out_png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--page", choices=tuple(PAGES), default="audio")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--word", default="seven", help="which spoken digit to recognise")
    parser.add_argument("--synthesise", action="store_true",
                        help="use the larger espeak-ng demo when espeak-ng is installed")
    args = parser.parse_args(argv)
    print(render_speech_tab(args.out, args.page, args.epochs, args.word,
                            shipped=not args.synthesise))
    return 0


if __name__ == "__main__":
    sys.exit(main())
