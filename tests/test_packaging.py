"""packaging/build.py on a stand-in bundle: the .deb's layout and metadata, the tarball, sizes.

The real bundle (several GB, minutes to build) is made and self-tested by ``make package``;
these tests check what build.py wraps around it, so a broken .deb recipe fails here first.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def build(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("packaging_build",
                                                  ROOT / "packaging" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dist = tmp_path / "dist"
    bundle = dist / module.NAME
    (bundle / "_internal").mkdir(parents=True)
    exe = bundle / module.NAME
    # A stand-in for the frozen app: answers the start-up probe the way the real one does.
    exe.write_text("#!/bin/sh\necho window-shown\n", encoding="utf-8")
    exe.chmod(0o755)
    (bundle / "_internal" / "libexample.so").write_bytes(b"\0" * 4096)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "DIST", dist)
    monkeypatch.setattr(module, "BUNDLE", bundle)
    monkeypatch.setattr(module, "EXE", exe)
    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "1.2.3"\n', encoding="utf-8")
    return module


def _args(build):
    return argparse.Namespace(python=sys.executable, variant="cpu", deb_compress="gzip",
                              tar_compress="gz", level=1)


@pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="dpkg-deb is not installed")
def test_deb_has_the_app_a_command_on_path_and_a_desktop_entry(build):
    deb = build.step_deb(_args(build))
    assert deb.name == "model-playground_1.2.3_amd64.deb" and deb.is_file()
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                             check=True).stdout
    for path in ("./opt/model-playground/model-playground",
                 "./opt/model-playground/_internal/libexample.so",
                 "./usr/bin/model-playground",
                 "./usr/share/applications/model-playground.desktop",
                 "./usr/share/icons/hicolor/512x512/apps/model-playground.png",
                 "./usr/share/doc/model-playground/copyright"):
        assert path in listing, (path, listing)
    assert "root/root" in listing  # --root-owner-group: no build user's ids in the package
    field = lambda name: subprocess.run(["dpkg-deb", "-f", str(deb), name],  # noqa: E731
                                        capture_output=True, text=True, check=True).stdout
    assert field("Package").strip() == "model-playground"
    assert field("Version").strip() == "1.2.3"
    assert "libxcb-cursor0" in field("Depends") and "espeak-ng" in field("Recommends")
    assert "cpu build" in field("Description")
    unpacked = build.DIST / "unpacked"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    desktop = (unpacked / "usr/share/applications/model-playground.desktop").read_text()
    assert "Exec=model-playground %F" in desktop and "image/png;" in desktop
    wrapper = (unpacked / "usr/bin/model-playground").read_text()
    assert 'exec /opt/model-playground/model-playground "$@"' in wrapper
    assert not (build.ROOT / "build" / "deb").joinpath("model-playground").exists()


def test_tarball_is_the_bundle_with_a_readme(build):
    out = build.step_tarball(_args(build))
    assert out.name == "model-playground-1.2.3-linux-x86_64-cpu.tar.gz"
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert "model-playground/model-playground" in names
    assert "model-playground/README.txt" in names


def test_sizes_records_files_and_startup(build):
    build.step_sizes(_args(build))
    figures = json.loads((build.DIST / "sizes.json").read_text())
    assert figures["variant"] == "cpu" and figures["bundle_bytes"] >= 4096
    assert len(figures["startup_to_window_s"]) == 3 and figures["startup_median_s"] >= 0


def test_missing_bundle_is_one_error_line(build, capsys):
    shutil.rmtree(build.BUNDLE)
    assert build.main(["deb"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no bundle at")
