"""The app opens a real X11 window (not only offscreen): the xcb platform plugin and the system
libraries it needs are present, and the window is shown and closed cleanly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(shutil.which("xvfb-run") is None,
                                reason="xvfb-run is not installed (apt-get install xvfb)")


def test_window_opens_on_a_real_x_server(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", PLAYGROUND_STARTUP_PROBE="exit",
               PLAYGROUND_HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    out = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24",
                          sys.executable, "-m", "playground"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "window-shown" in out.stdout, out.stderr[-2000:]
