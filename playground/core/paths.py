"""Where the app keeps its data.

``PLAYGROUND_HOME`` wins (tests and the CLI use it). Otherwise the same folder Qt's
``QStandardPaths.AppDataLocation`` gives the GUI for the app name ``ModelPlayground``, so the
CLI and the GUI see the same runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playground import APP_NAME
from playground.core.errors import StorageError


def home_path(override: str | os.PathLike | None = None) -> Path:
    """The data folder's path, without creating or checking anything."""
    if override:
        return Path(override).expanduser()
    if os.environ.get("PLAYGROUND_HOME"):
        return Path(os.environ["PLAYGROUND_HOME"]).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / APP_NAME


def ensure_folder(path: Path, what: str = "folder") -> Path:
    """Create ``path`` (and its parents) if needed; a clear :class:`StorageError` when it is a
    file, or cannot be created (permissions, read-only disk, a file in its way)."""
    hint = ("Choose a folder you can write to." if what == "folder" else
            "Point --home (or PLAYGROUND_HOME) at a folder you can write to.")
    if path.exists() and not path.is_dir():
        raise StorageError(f"The {what} {path} is a file, not a folder. {hint}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), path)
        raise StorageError(f"The {what} {path} cannot be created: {blocker} is a file, not "
                           f"a folder. {hint}") from None
    except PermissionError:
        raise StorageError(f"The {what} {path} cannot be created: permission denied. "
                           f"{hint}") from None
    except OSError as exc:
        raise StorageError(f"The {what} {path} cannot be created: "
                           f"{exc.strerror or exc}. {hint}") from None
    return path


def home_dir(override: str | os.PathLike | None = None) -> Path:
    """The data folder, created if needed; :class:`StorageError` when it cannot be used."""
    return ensure_folder(home_path(override), "data folder")


def runs_dir(home: str | os.PathLike | None = None) -> Path:
    return ensure_folder(home_dir(home) / "runs", "runs folder")


def cache_dir(home: str | os.PathLike | None = None) -> Path:
    return ensure_folder(home_dir(home) / "cache", "cache folder")
