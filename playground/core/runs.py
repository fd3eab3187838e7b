"""Runs on disk: nothing is lost.

::

    <home>/runs/<task>/<YYYYmmdd-HHMMSS>-<name>/
        run.json          task, model entry, full config, dataset description, versions, status
        metrics.jsonl     one JSON object per logged point, appended and flushed
        labels.json       class names / vocabulary info where the task has them
        tokenizer.model   SentencePiece model for text runs
        graph.json        the network of a Builder graph run (model ``graph:NAME``)
        checkpoints/last.safetensors, best.safetensors, optimizer.pt
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground import __version__
from playground.core import validate
from playground.core.checkpoint import atomic_write_json, atomic_write_text
from playground.core.errors import RunError
from playground.core.paths import runs_dir

TASKS = ("image", "text", "translate", "speech")

# Models whose definition lives in the run folder, not in the code: a registry name prefix ->
# the module ("module" path, imported only for such a run) that keeps them. A Builder graph
# (``graph:NAME``) is saved as graph.json by :meth:`RunStore.create` (``run_files(task,
# model)``) and registered again by :func:`open_run` (``ensure_registered(run, info)``), the
# one place a run folder is opened to resume, fork, predict, export, launch or import it
# (``check_run(run, info)``). Named, not imported: core stays below the packages it names.
RUN_MODEL_HOOKS = {"graph:": "playground.builder.registry"}


def _model_hooks(model: Any):
    import importlib

    for prefix, module in RUN_MODEL_HOOKS.items():
        if isinstance(model, str) and model.startswith(prefix):
            return importlib.import_module(module)
    return None


def model_files(task: str, model: str) -> dict[str, str]:
    """The files a new run of ``model`` keeps beside run.json (a Builder graph's graph.json)."""
    hooks = _model_hooks(model)
    return hooks.run_files(task, model) if hooks is not None else {}


def provide_model(run: Run, info: dict[str, Any]) -> None:
    """Make the model a run names available from its folder (registers a Builder graph from
    its graph.json); nothing for a model the code defines."""
    hooks = _model_hooks(info.get("model"))
    if hooks is not None:
        hooks.ensure_registered(run, info)

TRAINING = "training"
INTERRUPTED = "interrupted"
# A "training" run that records no process of this machine (older runs, or one trained on
# another machine) reads as interrupted once nothing in its folder changed for this long.
STALE_SECONDS = 6 * 3600
# Temporary files of writers that record no process (run.json, labels.json) are removed only
# when older than this, so a write in progress in another process is never cut short.
TEMP_GRACE_SECONDS = 120
TEMP_GLOB = ".*.tmp"  # what checkpoint.atomic_write leaves behind when killed mid-write


def this_host() -> str:
    return socket.gethostname()


def _proc_start_time(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), from /proc on Linux; None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        ticks = int(fields[19])  # field 22 of stat(5): starttime in clock ticks after boot
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return int(line.split()[1]) + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    return None


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2:].split()[0] in ("Z", "X")
    except (OSError, ValueError, IndexError):
        return False


def pid_alive(pid: int, started_before: float | None = None) -> bool:
    """Whether process ``pid`` runs on this machine (a killed, unreaped one does not).

    ``started_before``: the time the process is known to have been running at; a process with
    that id started later is another one that reused the id.
    """
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFO
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    except OSError:
        return False
    if _zombie(pid):
        return False
    if started_before is not None:
        start = _proc_start_time(pid)
        if start is not None and start > started_before + 2.0:
            return False
    return True


def _parse_stamp(text: Any) -> float | None:
    try:
        return time.mktime(time.strptime(str(text), "%Y-%m-%dT%H:%M:%S"))
    except (ValueError, OverflowError):
        return None


# Opening a store cleans temporary files at most this often per folder (the GUI opens one at
# every refresh of a run menu); :meth:`RunStore.cleanup` runs it at once.
CLEANUP_INTERVAL = 30.0
_LAST_CLEANUP: dict[str, float] = {}


@dataclass(frozen=True)
class RunProblem:
    """A run folder that could not be listed, and why (one sentence)."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _versions() -> dict[str, str]:
    versions = {"playground": __version__, "python": platform.python_version()}
    for module in ("torch", "torchvision", "torchaudio"):
        try:
            versions[module] = __import__(module).__version__
        except Exception:  # noqa: BLE001 - a missing optional package is simply not listed
            continue
    return versions


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return slug[:60] or "run"


@dataclass
class Run:
    """One run folder. Cheap to construct; reads files on demand."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.safetensors"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.safetensors"

    @property
    def optimizer_state(self) -> Path:
        return self.checkpoints / "optimizer.pt"

    def best_or_last(self) -> Path:
        for p in (self.best_checkpoint, self.last_checkpoint):
            if p.is_file():
                return p
        raise RunError(f"Run {self.path} has no checkpoint yet: it was stopped before the first "
                       "one was saved. Train it again.")

    # run.json -------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """run.json, checked against :data:`playground.core.validate.RUN_JSON`."""
        try:
            data = validate.read_json(self.path / "run.json")
        except FileNotFoundError:
            raise RunError(f"{self.path} is not a run folder (no run.json).") from None
        return validate.validate_run_json(data)

    def update(self, **fields: Any) -> None:
        info = self.info()
        info.update(fields)
        info["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        atomic_write_json(self.path / "run.json", info)

    def set_status(self, status: str, **fields: Any) -> None:
        self.update(status=status, **fields)

    @property
    def task(self) -> str:
        return self.info().get("task", "")

    # status ----------------------------------------------------------------------------------
    @property
    def status(self) -> str:
        """The status to show: run.json's, except that a "training" run no live process owns
        reads as "interrupted" (killed, crashed, or the machine went down)."""
        return self.effective_status(self.info())

    def effective_status(self, info: dict[str, Any]) -> str:
        status = str(info.get("status") or "")
        if status != TRAINING:
            return status
        return TRAINING if self.owner_alive(info) else INTERRUPTED

    def owner_alive(self, info: dict[str, Any] | None = None) -> bool | None:
        """Whether the process that is training this run still runs: True/False when run.json
        names a process of this machine, else (no pid, another machine) whether the folder
        changed in the last :data:`STALE_SECONDS`. None when the run is not training."""
        info = self.info() if info is None else info
        if info.get("status") != TRAINING:
            return None
        pid, host = info.get("pid"), info.get("host")
        if isinstance(pid, int) and (host is None or host == this_host()):
            return pid_alive(pid, _parse_stamp(info.get("updated") or info.get("created")))
        return time.time() - self.last_activity() < STALE_SECONDS

    def last_activity(self) -> float:
        """The newest modification time of run.json, metrics.jsonl and the checkpoints."""
        newest = 0.0
        paths = [self.path / "run.json", self.path / "metrics.jsonl"]
        if self.checkpoints.is_dir():
            paths += list(self.checkpoints.iterdir())
        for p in paths:
            try:
                newest = max(newest, p.stat().st_mtime)
            except OSError:
                continue
        return newest

    def temp_files(self) -> list[Path]:
        """Temporary files of interrupted atomic writes in the run folder and checkpoints/."""
        found: list[Path] = []
        for folder in (self.path, self.checkpoints):
            try:
                found += [p for p in folder.glob(TEMP_GLOB) if p.is_file()]
            except OSError:
                continue
        return found

    def remove_stale_temp_files(self) -> list[Path]:
        """Delete the temporary files no live process is writing; return what was removed.

        A run whose training process is alive keeps them (a checkpoint may be being written);
        a run whose process is known dead loses them at once; otherwise only files older than
        :data:`TEMP_GRACE_SECONDS` go (another process may be writing run.json right now).
        """
        temps = self.temp_files()
        if not temps:
            return []
        try:
            info = self.info()
            owner = self.owner_alive(info)
            known_dead = (owner is False and isinstance(info.get("pid"), int)
                          and info.get("host") in (None, this_host()))
        except RunError:
            owner, known_dead = None, False
        if owner:
            return []
        removed = []
        now = time.time()
        for p in temps:
            try:
                if known_dead or now - p.stat().st_mtime > TEMP_GRACE_SECONDS:
                    p.unlink()
                    removed.append(p)
            except OSError:
                continue
        return removed

    # metrics ---------------------------------------------------------------------------------
    def log_metrics(self, **values: Any) -> None:
        values.setdefault("time", round(time.time(), 3))
        with open(self.path / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(values) + "\n")
            fh.flush()

    def metrics(self) -> list[dict[str, Any]]:
        """The usable rows of metrics.jsonl (see :meth:`read_metrics`)."""
        return self.read_metrics()[0]

    def read_metrics(self) -> tuple[list[dict[str, Any]], list[str]]:
        """``(rows, problems)``: each row of metrics.jsonl that is a valid object; a line cut
        short by a crash or a row with wrong types is skipped and described in ``problems``
        ("metrics.jsonl: line 7: field 'val_loss' should be a number, got a string")."""
        path = self.path / "metrics.jsonl"
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return [], []
        except OSError as exc:
            return [], [f"metrics.jsonl: could not be read ({exc.strerror or exc})"]
        rows: list[dict[str, Any]] = []
        problems: list[str] = []
        for n, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                problems.append(f"metrics.jsonl: line {n} is not valid JSON")
                continue  # a line cut short by a crash
            problem = validate.metrics_row_problem(row)
            if problem:
                problems.append(f"metrics.jsonl: line {n}: {problem}")
                continue
            rows.append(row)
        return rows, problems

    # labels ----------------------------------------------------------------------------------
    def save_labels(self, labels: Any) -> None:
        atomic_write_json(self.path / "labels.json", labels)

    def labels(self) -> Any:
        """labels.json parsed (a JSON error names the file); the task checks its shape with
        :func:`~playground.core.validate.validate_class_labels` or ``validate_ctc_labels``."""
        try:
            return validate.read_json(self.path / "labels.json")
        except FileNotFoundError:
            raise RunError(f"Run {self.path} has no labels.json.") from None

    def class_labels(self, what: str = "class names") -> list[str]:
        """labels.json of a classifier: at least two names, all strings."""
        return validate.validate_class_labels(self.labels(), what=what)


class RunStore:
    """All runs under one home folder."""

    def __init__(self, home: str | Path | None = None, *, cleanup: bool = True) -> None:
        self.root = runs_dir(home)
        self.removed_temp_files: list[Path] = []
        if cleanup:
            key = str(self.root)
            now = time.monotonic()
            if now - _LAST_CLEANUP.get(key, -1e9) >= CLEANUP_INTERVAL:
                _LAST_CLEANUP[key] = now
                self.removed_temp_files = self.cleanup()

    def _run_folders(self, task: str | None = None) -> list[Path]:
        try:
            tasks = [task] if task else sorted(p.name for p in self.root.iterdir() if p.is_dir())
        except OSError:
            return []
        folders: list[Path] = []
        for t in tasks:
            try:
                folders += [p for p in (self.root / t).iterdir() if p.is_dir()]
            except OSError:
                continue
        return folders

    def cleanup(self) -> list[Path]:
        """Remove the temporary files that killed processes left in run folders (a checkpoint
        cut short by ``kill -9``); a run a live process trains is left alone. Cheap: only runs
        that have such files are read."""
        removed: list[Path] = []
        for folder in self._run_folders():
            removed += Run(folder).remove_stale_temp_files()
        return removed

    def scan(self, task: str | None = None) -> tuple[list[Run], list[RunProblem]]:
        """``(runs, problems)``: the runs whose run.json is valid, newest first, and one
        :class:`RunProblem` per damaged run (named, with the reason), so a listing survives
        any number of damaged runs."""
        runs: list[Run] = []
        problems: list[RunProblem] = []
        for folder in self._run_folders(task):
            if not (folder / "run.json").exists():
                continue
            run = Run(folder)
            try:
                run.info()
            except RunError as exc:
                problems.append(RunProblem(folder, str(exc)))
                continue
            runs.append(run)
        runs.sort(key=lambda r: r.name, reverse=True)
        problems.sort(key=lambda p: p.path.name, reverse=True)
        return runs, problems

    def create(self, task: str, name: str, *, model: str, config: dict[str, Any],
               dataset: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Run:
        folder = self.root / task
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{_slug(name)}"
        path = folder / base
        n = 1
        while True:
            try:
                path.mkdir()
                break
            except FileExistsError:
                n += 1
                path = folder / f"{base}-{n}"
        (path / "checkpoints").mkdir()
        info = {"task": task, "name": name, "model": model, "config": config,
                "dataset": dataset or {}, "versions": _versions(), "status": "created",
                "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        info.update(extra or {})
        for file_name, text in model_files(task, model).items():  # before run.json
            atomic_write_text(path / file_name, text)
        atomic_write_json(path / "run.json", info)
        return Run(path)

    def list(self, task: str | None = None) -> list[Run]:
        """Every run folder (with a run.json, valid or not), newest first; :meth:`scan`
        separates the damaged ones."""
        runs = [Run(p) for p in self._run_folders(task) if (p / "run.json").is_file()]
        return sorted(runs, key=lambda r: r.name, reverse=True)

    def latest(self, task: str) -> Run | None:
        runs = self.list(task)
        return runs[0] if runs else None

    def delete(self, run: Run) -> None:
        root, path = self.root.resolve(), run.path.resolve()
        # A run folder is exactly <root>/<task>/<name>: never the store or a task folder, and
        # never a look-alike such as "<root>-old/..." (which a string prefix test would accept).
        if path.parent.parent != root:
            raise RunError(f"{run.path} is not a run folder inside {self.root}; not deleting it.")
        shutil.rmtree(path)


def open_run(path: str | Path, task: str | None = None, *, with_model: bool = True) -> Run:
    """A run from a folder path, checking it is one (and of ``task`` if given); a model the
    folder itself defines (a Builder graph) is registered from it (:func:`provide_model`)
    unless ``with_model`` is False (showing or deleting the run needs no model)."""
    run = Run(Path(path).expanduser())
    if not run.path.is_dir():
        raise RunError(f"Run folder {run.path} does not exist.")
    info = run.info()
    if task and info.get("task") != task:
        raise RunError(f"{run.path} is a {info.get('task')!r} run, not a {task!r} run.")
    if with_model:
        provide_model(run, info)
    return run


# ------------------------------------------------------------------------------------------
# Importing a run trained elsewhere (another machine, torchrun on a cluster)
# ------------------------------------------------------------------------------------------
# Files in checkpoints/ that only a pickle loader reads: the app never loads these (its weights
# are safetensors; optimizer.pt is its own resume state, read with weights_only=True).
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib")
IMPORTED_SUFFIX = "-imported"


def _version_key(text: Any) -> tuple[int, ...] | None:
    """``"0.10.2"`` -> ``(0, 10, 2)``; the leading numbers of a version, None without any."""
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", str(text))
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


def _newer(theirs: tuple[int, ...], ours: tuple[int, ...]) -> bool:
    width = max(len(theirs), len(ours))
    return theirs + (0,) * (width - len(theirs)) > ours + (0,) * (width - len(ours))


def check_importable(source: str | os.PathLike) -> dict[str, Any]:
    """Check that ``source`` is a run folder this app can take in; return its run.json.

    A run folder has a readable, valid run.json of a task the app knows, was written by this
    version of the app or an older one (``versions.playground``; none means older), and keeps
    its weights as safetensors whose headers are sound. Raises :class:`RunError` in one
    sentence. Reads only; nothing is written.
    """
    path = Path(source).expanduser()
    if not path.is_dir():
        raise RunError(f"{path} is not a folder; choose the run folder itself (the one with "
                       "run.json and checkpoints/ in it)." if path.exists() else
                       f"The folder {path} does not exist.")
    if not (path / "run.json").is_file():
        raise RunError(f"{path} is not a run folder: it has no run.json (choose the folder of "
                       "one run, e.g. runs/image/20250101-120000-digits).")
    info = Run(path).info()
    task = info.get("task")
    if task not in TASKS:
        raise RunError(f"{path} is a run of the task {task!r}, which this version of the app "
                       f"does not know (it knows {', '.join(TASKS)}).")
    versions = info.get("versions") if isinstance(info.get("versions"), dict) else {}
    written = versions.get("playground")
    if written is not None:
        theirs, ours = _version_key(written), _version_key(__version__)
        if theirs is None:
            raise RunError(f"{path / 'run.json'} says it was written by app version "
                           f"{str(written)[:40]!r}, which is not a version number; the file "
                           "is damaged.")
        if ours is not None and _newer(theirs, ours):
            raise RunError(f"{path} was written by Model Playground {written}, newer than this "
                           f"one ({__version__}): update the app to import it.")
    hooks = _model_hooks(info.get("model"))
    if hooks is not None:
        hooks.check_run(Run(path), info)  # e.g. a Builder graph run without its graph.json
    from playground.core.checkpoint import read_header

    folder = path / "checkpoints"
    if folder.is_dir():
        for item in sorted(folder.iterdir()):
            if item.is_symlink() or item.name.startswith(".") or not item.is_file():
                continue  # not copied (see import_run)
            suffix = item.suffix.lower()
            if suffix == ".safetensors":
                read_header(item)  # a damaged checkpoint names itself (CheckpointError)
            elif suffix in PICKLE_SUFFIXES and item.name != "optimizer.pt":
                raise RunError(f"{item} is not a safetensors checkpoint: this app keeps "
                               "weights only as safetensors and never loads pickled files, so "
                               "the folder was not written by it.")
    return info


def _import_ignore(folder: str, names: list[str]) -> list[str]:
    """What is not copied: links (they point outside the run), temporary files of
    interrupted writes, and run.json (written last, so a half-copied run is never listed)."""
    skipped = []
    for name in names:
        full = os.path.join(folder, name)
        if os.path.islink(full) or Path(name).match(TEMP_GLOB):
            skipped.append(name)
    return skipped


def import_run(source: str | os.PathLike, home: str | os.PathLike | None = None) -> Run:
    """Copy the run folder ``source`` (trained on another machine) into the run store, under
    its task, and return the copy; the source is only read.

    Checked first with :func:`check_importable`. The copy keeps the folder's name, or takes a
    new one (``NAME-imported``, ``NAME-imported-2``, …) when a run of that name exists: nothing
    is overwritten. Its run.json records where it came from (``imported``), and a run that was
    still "training" when it was copied reads "interrupted" (it can be resumed). A failure
    part-way removes the partial copy.
    """
    src = Path(source).expanduser()
    info = check_importable(src)
    store = RunStore(home)
    root, resolved = store.root.resolve(), src.resolve()
    if resolved == root or root in resolved.parents:
        raise RunError(f"{src} is already in the app's runs ({store.root}); there is nothing to "
                       "import.")
    if resolved in root.parents:
        raise RunError(f"The app's runs folder {store.root} is inside {src}; choose the run "
                       "folder itself.")
    task = str(info["task"])
    folder = store.root / task
    folder.mkdir(parents=True, exist_ok=True)
    base = _slug(src.name if src.name not in ("", ".", "..") else resolved.name)
    dest, n = folder / base, 1
    while True:
        try:
            dest.mkdir()  # claims the name: two imports at once never share a folder
            break
        except FileExistsError:
            n += 1
            dest = folder / (f"{base}{IMPORTED_SUFFIX}" if n == 2 else
                             f"{base}{IMPORTED_SUFFIX}-{n - 1}")
    try:
        for item in src.iterdir():
            if item.name == "run.json" or item.name in _import_ignore(str(src), [item.name]):
                continue
            if item.is_dir():
                shutil.copytree(item, dest / item.name, ignore=_import_ignore)
            else:
                shutil.copy2(item, dest / item.name)
        raw = validate.read_json(src / "run.json")
        if raw.get("status") == TRAINING:
            raw["status"] = INTERRUPTED
        raw["imported"] = {"from": str(resolved), "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                           "host": this_host(), "name": src.name}
        atomic_write_json(dest / "run.json", raw)
    except BaseException as exc:
        shutil.rmtree(dest, ignore_errors=True)
        if isinstance(exc, OSError):
            from playground.core.errors import StorageError

            raise StorageError(f"The run could not be copied into {folder} "
                               f"({exc.strerror or exc}); nothing was imported.") from exc
        raise
    return Run(dest)
