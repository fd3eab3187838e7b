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


def home_dir(override: str | os.PathLike | None = None) -> Path:
    if override:
        path = Path(override).expanduser()
    elif os.environ.get("PLAYGROUND_HOME"):
        path = Path(os.environ["PLAYGROUND_HOME"]).expanduser()
    elif sys.platform == "win32":
        path = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / APP_NAME
    elif sys.platform == "darwin":
        path = Path.home() / "Library" / "Application Support" / APP_NAME
    else:
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        path = Path(base) / APP_NAME
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir(home: str | os.PathLike | None = None) -> Path:
    path = home_dir(home) / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(home: str | os.PathLike | None = None) -> Path:
    path = home_dir(home) / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path
