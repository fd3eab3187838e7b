"""Render the Text tab to a PNG file, offscreen, as a user would see it.

``python -m playground.ui.screenshot_text OUT.png`` opens the window on the Text tab, trains a
tiny GPT briefly on the built-in corpus (``demo:pydoc``), generates a continuation, and saves
the window with the chosen page: ``attention`` (default), ``generate`` or ``training``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

PAGES = {"training": 0, "generate": 1, "attention": 2}


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


def render_text_tab(out_png: str, page: str = "attention", iters: int = 300,
                    prompt: str = "The return statement ") -> str:
    """Train a tiny GPT for ``iters`` steps, generate from ``prompt``, save ``out_png``."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PLAYGROUND_HOME", tempfile.mkdtemp(prefix="playground-shot-"))
    import torch  # noqa: F401 - loaded up front, as the app's warm-up thread does

    from playground.ui.app import create_window

    app, window = create_window()
    window.resize(1500, 950)
    window.show()
    window.tabs.setCurrentWidget(window.tab_widgets["Text"])
    window.appctx.torch_loaded = True
    window.appctx.torch_ready.emit()
    mode = window.tab_widgets["Text"].generate
    view = mode.view
    _wait(app, lambda: mode.tokenizer is not None, 60)
    form = view.form
    for name, value in (("n_layer", 2), ("n_head", 4), ("n_embd", 64), ("block_size", 64),
                        ("batch_size", 16), ("max_iters", iters), ("warmup_iters", 20),
                        ("learning_rate", 3e-3), ("min_lr", 3e-4),
                        ("eval_interval", max(1, iters // 5)), ("eval_iters", 5),
                        ("sample_tokens", 120)):
        form.widget_for(name).setValue(value)
    mode.start_training()
    _wait(app, lambda: not mode.train_runner.is_busy(), 900)
    view.prompt_edit.setPlainText(prompt)
    options = view.options_form
    options.widget_for("max_new_tokens").setValue(200)
    options.widget_for("seed").setValue(7)
    mode.generate()
    _wait(app, lambda: not mode.generate_runner.is_busy(), 120)
    _wait(app, lambda: view.attention.has_maps(), 60)
    view.attention.select(1, 0)
    view.pages.setCurrentIndex(PAGES[page])
    _settle(app)
    window.grab().save(out_png)
    window.close()
    return out_png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--page", choices=tuple(PAGES), default="attention")
    parser.add_argument("--iters", type=int, default=300, help="training iterations")
    args = parser.parse_args(argv)
    print(render_text_tab(args.out, args.page, args.iters))
    return 0


if __name__ == "__main__":
    sys.exit(main())
