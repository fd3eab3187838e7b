"""``model-playground --self-test``: prove that this installation works, in about a minute.

The same checks run in a development checkout (``playground --self-test``) and in a packaged
app (the frozen bundle, the installed ``.deb``), where they are what ``make package`` runs on
what it built. They open the real main window offscreen and drive its tabs the way
:mod:`playground.ui.screenshot` does (the same helpers), in a temporary ``PLAYGROUND_HOME`` so
nothing of the user's is read or written:

- ``qt-platform``, ``qt-imageformats``, ``qt-multimedia``: the Qt plugins a packaged app must
  carry (platform plugins offscreen and xcb, JPEG/GIF/WebP/SVG image readers, the multimedia
  backend the microphone uses);
- ``sentencepiece``, ``soundfile``, ``torchaudio``, ``torchvision-ops``, ``onnxruntime``: the
  native libraries load and compute something;
- ``multiprocessing``: a ``spawn`` child process (what DataLoader workers use) starts and
  answers, which in a frozen app needs ``freeze_support`` in the entry;
- ``child-process``: the builder traces a model file in a child process of the app (frozen:
  the app's own executable with ``--child MODULE``);
- ``window``: the main window opens with every tab;
- ``image``, ``text``, ``translate``, ``speech``: each tab trains its built-in demo for a few
  steps and predicts with the result (a class for a drawn star, a generated continuation, a
  translated number, a recognised spoken digit);
- ``runs``: the runs those tabs wrote are read back from disk (run.json, metrics, checkpoint);
- ``export``: the image run is exported to ONNX and checked against PyTorch with onnxruntime.

It prints one line per check (``ok`` or ``FAILED``, seconds, a short detail), then a summary;
the exit status is 0 when everything passed, 1 naming the checks that failed. Tracebacks go to
the log file whose path is printed, never to the terminal.

``--only NAME[,NAME…]`` runs a subset; ``PLAYGROUND_SELFTEST_FAIL=NAME`` makes that check fail
on purpose (to see, and test, what a failure looks like).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FAIL_ENV = "PLAYGROUND_SELFTEST_FAIL"


class CheckFailed(Exception):
    """A check's own, one-sentence reason for failing."""


@dataclass
class Result:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [r.name for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        return bool(self.results) and not self.failed

    def line(self, r: Result) -> str:
        status = "ok" if r.ok else "FAILED"
        return f"  {status:<7}{r.name:<18}{r.seconds:6.1f} s  {r.detail}".rstrip()

    def summary(self, total: float) -> str:
        if self.ok:
            n = len(self.results)
            return f"self-test passed: {n} check{'s' * (n != 1)} in {total:.1f} s"
        return (f"self-test FAILED: {', '.join(self.failed)} "
                f"({len(self.failed)} of {len(self.results)} checks)")


def run_check(name: str, fn: Callable[[], str | None]) -> Result:
    """Run one check; any exception becomes a FAILED result with a one-line reason."""
    t0 = time.perf_counter()
    try:
        if name in {n.strip() for n in os.environ.get(FAIL_ENV, "").split(",")}:
            raise CheckFailed(f"forced to fail by {FAIL_ENV}")
        detail = fn() or ""
        ok = True
    except CheckFailed as exc:
        ok, detail = False, str(exc)
    except Exception as exc:  # noqa: BLE001 - every failure is reported, the traceback logged
        log.error("self-test check %s failed:\n%s", name, traceback.format_exc())
        ok, detail = False, _one_line(exc)
    return Result(name, ok, time.perf_counter() - t0, detail)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text if len(text) <= 200 else text[:200] + "…"
    return f"{type(exc).__name__}: {text}"


# --- checks that need no window ------------------------------------------------------------

def check_sentencepiece(work: Path) -> str:
    import io

    import sentencepiece as spm

    lines = [f"the number {i} is written as {i} and read aloud" for i in range(200)]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model,
                                   vocab_size=40, model_type="bpe", minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    ids = sp.encode("the number 7 is written")
    if sp.decode(ids) != "the number 7 is written":
        raise CheckFailed("a trained tokenizer did not round-trip a sentence")
    return f"{spm.__version__}, trained a 40-piece BPE"


def check_soundfile(work: Path) -> str:
    import numpy as np
    import soundfile as sf

    from playground.speech.synth import shipped_keyword_folder

    clip = next(iter(sorted(shipped_keyword_folder().glob("*/*.flac"))))
    data, rate = sf.read(clip, dtype="float32")
    out = work / "clip.wav"
    sf.write(out, data, rate)
    back, rate2 = sf.read(out, dtype="float32")
    if rate2 != rate or not np.allclose(back, data, atol=1e-4):
        raise CheckFailed("a WAV written and read back differs from the FLAC it came from")
    return f"libsndfile {sf.__libsndfile_version__}, FLAC and WAV"


def check_torchaudio(work: Path) -> str:
    import torch
    import torchaudio
    import torchaudio.functional as F

    mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_mels=40)(torch.randn(1, 16000))
    log_probs = torch.randn(1, 30, 6).log_softmax(-1)
    targets = torch.tensor([[1, 2, 3]], dtype=torch.int32)
    path, _ = F.forced_align(log_probs, targets, blank=0)  # the C++ extension
    if mel.shape[1] != 40 or path.shape != (1, 30):
        raise CheckFailed("mel spectrogram or CTC alignment gave the wrong shape")
    return f"{torchaudio.__version__}, mel + forced_align"


def check_torchvision_ops(work: Path) -> str:
    import torch
    import torchvision
    from torchvision import ops

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=torch.float)
    keep = ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
    pooled = ops.roi_align(torch.randn(1, 3, 16, 16), [boxes[:1]], output_size=(2, 2))
    if keep.tolist() != [0, 2] or pooled.shape != (1, 3, 2, 2):
        raise CheckFailed("torchvision's nms/roi_align gave a wrong answer")
    return f"{torchvision.__version__}, nms + roi_align"


def check_onnxruntime(work: Path) -> str:
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 2], [1, 2, 3, 4, 5, 6])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "selftest",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = work / "tiny.onnx"
    onnx.save(model, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": np.array([[1, 1, 1]], dtype=np.float32)})
    if y.tolist() != [[9.0, 12.0]]:
        raise CheckFailed("onnxruntime computed a wrong product")
    return f"{ort.__version__}, {', '.join(ort.get_available_providers())}"


def _square(x: int) -> int:
    return x * x


def check_multiprocessing(work: Path) -> str:
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(1) as pool:
        answer = pool.apply_async(_square, (7,)).get(timeout=120)
    if answer != 49:
        raise CheckFailed("a spawned worker process gave a wrong answer")
    return "spawned worker answered"


_TINY_MODEL = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4 * 8 * 8, 2)

    def forward(self, x):
        return self.head(self.conv(x).relu().flatten(1))
"""


def check_child_process(work: Path) -> str:
    """The builder imports a user's model file in a child process of the app itself."""
    from playground.builder.import_fx import import_python_file

    path = work / "tiny_net.py"
    path.write_text(_TINY_MODEL, encoding="utf-8")
    graph, weights = import_python_file(f"{path}:Net", input_shape=(3, 8, 8), timeout=120)
    if not weights:
        raise CheckFailed("the child process traced the model but returned no weights")
    return f"traced a model file in a child process ({len(weights)} tensors)"


# --- checks on the window --------------------------------------------------------------------

class _Watch:
    """Remembers each runner's terminal event and the window's error notices."""

    def __init__(self, window) -> None:
        self.errors: list[str] = []
        self.terminal: dict[int, Any] = {}
        window.appctx.notice.connect(self._on_notice)

    def _on_notice(self, level: str, message: str, details: str) -> None:
        if level == "error":
            self.errors.append(message)

    def runner(self, runner) -> None:
        key = id(runner)
        runner.finished.connect(lambda event: self.terminal.__setitem__(key, event))

    def failed(self, runner) -> str | None:
        from playground.core import events as ev

        event = self.terminal.get(id(runner))
        return event.message if isinstance(event, ev.Failed) else None


class WindowChecks:
    """The main window, opened once, and one check per tab driven on it."""

    def __init__(self) -> None:
        self.app = self.window = self.watch = None

    def _guard(self, what: str, fn: Callable[[], Any], *runners) -> Any:
        """``fn()``; a timeout or a failed job becomes one sentence naming ``what``."""
        from playground.ui import screenshot

        for r in runners:
            self.watch.runner(r)
        before = len(self.watch.errors)

        def give_up() -> str | None:  # a failed job or an error notice: stop waiting now
            failed = any(self.watch.failed(r) for r in runners)
            return "failed" if failed or len(self.watch.errors) > before else None

        screenshot.give_up = give_up
        try:
            out = fn()
        except TimeoutError:
            out = None
            reason = "timed out"
        except screenshot.GaveUp:
            out = None
            reason = "failed"
        else:
            reason = ""
        finally:
            screenshot.give_up = None
        for r in runners:
            message = self.watch.failed(r)
            if message:
                raise CheckFailed(f"{what} failed: {message}")
        new_errors = self.watch.errors[before:]
        if new_errors:
            raise CheckFailed(f"{what}: {new_errors[-1]}")
        if reason:
            raise CheckFailed(f"{what} {reason}")
        return out

    def open(self) -> str:
        from playground.ui import screenshot

        self.app, self.window, _tab = screenshot._open("image")
        self.watch = _Watch(self.window)
        titles = [self.window.tabs.tabText(i) for i in range(self.window.tabs.count())]
        return f"{self.app.platformName()}, tabs: {', '.join(titles)}"

    def _tab(self, name: str):
        from playground.ui import screenshot

        if self.window is None:
            raise CheckFailed("the window did not open")
        tab = self.window.tab_widgets[screenshot.TAB_TITLES[name]]
        self.window.tabs.setCurrentWidget(tab)
        return tab

    def image(self) -> str:
        from playground.ui import screenshot

        tab = self._tab("image")
        view = self._guard("training the Shapes demo",
                           lambda: screenshot._image(self.app, tab, 1),
                           tab.data_runner, tab.train_runner, tab.predict_runner)
        top = view.bars.items()[0] if view.bars.items() else None
        if top is None:
            raise CheckFailed("the image tab showed no prediction")
        return f"small CNN, 1 epoch; a star -> {_label(top)}"

    def text(self) -> str:
        from playground.ui import screenshot

        tab = self._tab("text")
        mode = tab.generate
        view = self._guard("training the GPT on demo:pydoc",
                           lambda: screenshot._text(self.app, tab, 30, prompt="The "),
                           mode.train_runner, mode.generate_runner)
        out = view.output.toPlainText()
        if not out.strip():
            raise CheckFailed("the text tab generated nothing")
        return "tiny GPT, 30 iterations; generated text"

    def translate(self) -> str:
        from playground.ui import screenshot

        tab = self._tab("translate")
        mode = tab.translate
        self._guard("training the numbers translator",
                    lambda: screenshot._translate(self.app, tab, 1, text="forty-two"),
                    mode.train_runner, mode.translate_runner)
        result = mode.panel.result or {}
        hyp = _first_text(result)
        return f"Transformer, 1 epoch; 'forty-two' -> {hyp!r}" if hyp else \
            "Transformer, 1 epoch; translated"

    def speech(self) -> str:
        from playground.speech import synth
        from playground.ui import screenshot

        note = "" if synth.espeak_path() else " (espeak-ng not installed: shipped clips)"
        synth.espeak_path = lambda: None  # the shipped clips: quick and the same everywhere
        tab = self._tab("speech")
        self._guard("training the spoken-digit demo",
                    lambda: screenshot._speech(self.app, tab, 1),
                    tab.data_runner, tab.train_runner, *tab.clip.runners())
        pred = tab.clip.last_prediction or {}
        label = _first_label(pred)
        return (f"keyword CNN, 1 epoch; 'seven' -> {label}" if label else
                "keyword CNN, 1 epoch; recognised a clip") + note

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
            self.app.processEvents()


def _label(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("label") or item.get("name") or item)
    if isinstance(item, (tuple, list)) and item:
        return str(item[0])
    return str(item)


def _first_label(pred: dict[str, Any]) -> str:
    items = pred.get("predictions")
    return _label(items[0]) if items else ""


def _first_text(result: dict[str, Any]) -> str:
    value = result.get("text")
    return value if isinstance(value, str) else ""


def check_qt_platform(work: Path) -> str:
    from PySide6.QtCore import QLibraryInfo, QPluginLoader
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    found = sorted(p.name for p in plugins.glob("libq*")) if plugins.is_dir() else []
    if sys.platform.startswith("linux"):
        needed = {"libqxcb.so": "xcb (X11 desktops)", "libqoffscreen.so": "offscreen"}
        missing = [label for name, label in needed.items() if name not in found]
        if missing:
            raise CheckFailed(f"platform plugin missing: {', '.join(missing)} (in {plugins})")
        loader = QPluginLoader(str(plugins / "libqxcb.so"))
        if not loader.load():
            raise CheckFailed(f"the xcb platform plugin does not load: {loader.errorString()} "
                              "(a system library such as libxcb-cursor0 is missing)")
    platform_name = app.platformName() if app else "?"
    return f"running on {platform_name}; {len(found)} platform plugins"


def check_qt_imageformats(work: Path) -> str:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QColor, QImage, QImageReader

    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    missing = [f for f in ("png", "jpeg", "gif", "bmp", "webp", "svg") if f not in formats]
    if missing:
        raise CheckFailed(f"Qt cannot read {', '.join(missing)} images (imageformats plugins "
                          "missing)")
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    image.fill(QColor(200, 30, 30))
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "JPEG")
    back = QImage.fromData(data, "JPEG")
    if back.isNull() or back.width() != 8:
        raise CheckFailed("a JPEG written by Qt could not be read back")
    return f"{len(formats)} formats incl. jpeg, webp, svg"


def check_qt_multimedia(work: Path) -> str:
    from PySide6.QtCore import QLibraryInfo
    from PySide6.QtMultimedia import QMediaDevices, QMediaFormat

    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "multimedia"
    backends = sorted(p.name for p in plugins.iterdir()) if plugins.is_dir() else []
    if not backends:
        raise CheckFailed(f"no Qt multimedia backend plugin in {plugins} (recording and "
                          "playback cannot work)")
    decodable = QMediaFormat().supportedFileFormats(QMediaFormat.ConversionMode.Decode)
    if not decodable:
        raise CheckFailed("the Qt multimedia backend loaded no decoders")
    inputs = len(QMediaDevices.audioInputs())
    return f"{', '.join(backends)}; {inputs} microphone(s) seen"


def check_runs(home: Path) -> str:
    from playground.core.checkpoint import load_weights
    from playground.core.runs import RunStore

    runs, problems = RunStore(home, cleanup=False).scan()
    if problems:
        raise CheckFailed(f"a run folder could not be read: {problems[0]}")
    tasks = sorted({r.task for r in runs})
    if not runs:
        raise CheckFailed(f"no run was written under {home}")
    for run in runs:
        info = run.info()
        weights = load_weights(run.best_or_last())
        if not weights:
            raise CheckFailed(f"run {run.name} has an empty checkpoint")
        metrics = run.path / "metrics.jsonl"
        points = [json.loads(line) for line in
                  metrics.read_text(encoding="utf-8").splitlines()] if metrics.is_file() else []
        if not points:
            raise CheckFailed(f"run {run.name} logged no metrics")
        if info.get("status") in {"training", "failed"}:
            raise CheckFailed(f"run {run.name} is marked {info.get('status')!r}, not finished")
    return f"{len(runs)} runs read back ({', '.join(tasks)})"


def check_export(home: Path, work: Path) -> str:
    """The image run, exported to ONNX and checked against PyTorch (torch.export, the dynamo
    ONNX exporter and onnxruntime: what the Export… dialog runs)."""
    from playground.core import events as ev
    from playground.core.export import make_export_job
    from playground.core.jobs import JobContext, run_job
    from playground.core.runs import RunStore

    runs = [r for r in RunStore(home, cleanup=False).scan()[0] if r.task == "image"]
    if not runs:
        raise CheckFailed("no image run to export (the image check did not finish)")
    job = make_export_job(runs[0].path, "onnx", work / "export")
    event = run_job(job, JobContext(device="cpu"))
    if isinstance(event, ev.Failed):
        raise CheckFailed(f"exporting the image run failed: {event.message}")
    parity = event.result["parity"]
    return (f"ONNX {event.result['size_bytes'] / 1e6:.1f} MB, largest difference "
            f"{parity['max_abs_diff']:.1e}, top-1 agreement {parity['top1_agreement']:.0%}")


# --- the whole test --------------------------------------------------------------------------

NATIVE = {
    "sentencepiece": check_sentencepiece,
    "soundfile": check_soundfile,
    "torchaudio": check_torchaudio,
    "torchvision-ops": check_torchvision_ops,
    "onnxruntime": check_onnxruntime,
    "multiprocessing": check_multiprocessing,
    "child-process": check_child_process,
}
QT = {
    "qt-platform": check_qt_platform,
    "qt-imageformats": check_qt_imageformats,
    "qt-multimedia": check_qt_multimedia,
}
TABS = ("image", "text", "translate", "speech")
ALL = ("window", *QT, *NATIVE, *TABS, "runs", "export")


def run_all(only: Sequence[str] | None = None, out=None) -> Report:
    """Run the checks (all, or ``only``), printing each line as it finishes."""
    out = out or sys.stdout
    wanted = list(ALL) if not only else [n for n in ALL if n in set(only)]
    report = Report()
    home = Path(os.environ["PLAYGROUND_HOME"])
    work = Path(tempfile.mkdtemp(prefix="selftest-", dir=home))

    def record(name: str, fn: Callable[[], str | None]) -> None:
        result = run_check(name, fn)
        report.results.append(result)
        print(report.line(result), file=out, flush=True)

    needs_window = any(n in wanted for n in ("window", *QT, *TABS))
    checks = WindowChecks()
    if needs_window:
        record("window", checks.open)
    for name in wanted:
        if name in QT:
            record(name, lambda fn=QT[name]: fn(work))
        elif name in NATIVE:
            record(name, lambda fn=NATIVE[name]: fn(work))
        elif name in TABS:
            record(name, getattr(checks, name))
        elif name == "runs":
            record(name, lambda: check_runs(home))
        elif name == "export":
            record(name, lambda: check_export(home, work))
    if needs_window:
        checks.close()
    return report


def _header() -> str:
    from playground import __version__

    frozen = "frozen bundle" if getattr(sys, "frozen", False) else "from source"
    return (f"Model Playground {__version__} self-test ({frozen}, Python "
            f"{platform.python_version()}, {platform.system()} {platform.machine()})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="model-playground --self-test",
        description="Check that this installation of Model Playground works: open the window "
                    "offscreen, train each demo for a few steps, load the native libraries.")
    parser.add_argument("--only", help=f"comma-separated checks to run ({', '.join(ALL)})")
    args = parser.parse_args(list(argv or []))
    only = [n.strip() for n in args.only.split(",")] if args.only else None
    unknown = [n for n in only or [] if n not in ALL]
    if unknown:
        print(f"error: unknown check {', '.join(unknown)}; choose from {', '.join(ALL)}",
              file=sys.stderr)
        return 2
    windowed = sys.stdout is None  # Windows' GUI executable has no console to print to
    # a person (the Start menu entry) gets the report opened; a build script running it
    # offscreen reads the file itself
    interactive = os.environ.get("QT_QPA_PLATFORM") != "offscreen"
    if windowed:
        sys.stdout = open(REPORT_PATH, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        return _run_and_report(only)
    finally:
        if windowed:
            sys.stdout.close()
            sys.stdout = None
            if interactive:
                show_report(REPORT_PATH)


#: Where a windowed app (no console: the Start menu's "Check Model Playground works") writes
#: the lines it would have printed; :func:`show_report` then opens the file for the user.
REPORT_PATH = Path(tempfile.gettempdir()) / "model-playground-selftest.txt"


def show_report(path: Path) -> None:
    """Open the report in the system's text viewer (Notepad on Windows)."""
    opener = getattr(os, "startfile", None)  # Windows only
    if opener is not None:
        opener(str(path))
    elif sys.platform == "darwin":
        import subprocess

        subprocess.run(["open", "-t", str(path)], check=False)


def _run_and_report(only: list[str] | None) -> int:
    t0 = time.perf_counter()
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia.*=false;qt.qpa.*=false")
    with tempfile.TemporaryDirectory(prefix="playground-selftest-",
                                     ignore_cleanup_errors=True) as home:
        os.environ["PLAYGROUND_HOME"] = home  # every run and cache of the test lives here
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        log_path = Path(tempfile.gettempdir()) / "model-playground-selftest.log"
        handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)
        print(_header(), flush=True)
        try:
            report = run_all(only)
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()
    print(report.summary(time.perf_counter() - t0), flush=True)
    if not report.ok:
        print(f"details: {log_path}", flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
