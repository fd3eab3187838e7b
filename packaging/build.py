"""Build and check Model Playground's installers: ``python packaging/build.py STEP…``.

Steps (``make package`` runs ``all``):

- ``bundle``   PyInstaller one-folder bundle from ``packaging/model-playground.spec`` into
               ``dist/model-playground/``;
- ``selftest`` ``dist/model-playground/model-playground --self-test`` (offscreen);
- ``deb``      ``dist/model-playground_<version>_amd64.deb`` (``/opt/model-playground``,
               ``/usr/bin/model-playground``, a ``.desktop`` entry with icon and MIME types);
- ``tarball``  ``dist/model-playground-<version>-linux-x86_64-<variant>.tar.<ext>``, portable;
- ``deb-test`` installs the .deb (apt, so its dependencies come too), runs
               ``model-playground --self-test`` from PATH, opens its window on an X display
               (xvfb, when installed), removes it and checks nothing is left;
- ``sizes``    prints the sizes and the frozen start-up time to the window (median of 3);
- ``all``      all of the above, in that order.

``--python`` names the interpreter whose packages are bundled (``make package`` passes the
.venv, or with ``VARIANT=cpu`` a separate venv with CPU-only torch). ``--variant`` only names
the outputs. Every failure is one ``error:`` line and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
DIST = ROOT / "dist"
NAME = "model-playground"
BUNDLE = DIST / NAME
EXE = BUNDLE / (f"{NAME}.exe" if sys.platform == "win32" else NAME)
NICE = ["nice", "-n", "10"] if shutil.which("nice") else []
APP_ID = "org.modelplayground.ModelPlayground"
MIME_TYPES = ["image/png", "image/jpeg", "image/bmp", "image/gif", "image/webp", "image/tiff",
              "audio/wav", "audio/x-wav", "audio/flac", "audio/x-flac", "audio/ogg",
              "audio/mpeg", "text/plain", "text/tab-separated-values"]
# What the bundle needs from the system (Qt's xcb platform plugin and audio), as in .ci/run.
DEB_DEPENDS = ["libc6 (>= 2.28)", "libegl1", "libgl1", "libfontconfig1", "libdbus-1-3",
               "libglib2.0-0", "libxkbcommon0", "libxkbcommon-x11-0", "libxcb-cursor0",
               "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0",
               "libxcb-render-util0", "libxcb-shape0", "libxcb-xinerama0", "libxcb-xkb1",
               "libxcb-xfixes0"]
DEB_RECOMMENDS = ["libpulse0", "espeak-ng"]


class BuildError(Exception):
    pass


def version() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    m = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if not m:
        raise BuildError("pyproject.toml has no version")
    return m.group(1)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    proc = subprocess.run([str(c) for c in cmd], **kw)
    if proc.returncode != 0:
        raise BuildError(f"{Path(str(cmd[0])).name} exited with {proc.returncode}")
    return proc


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_symlink() and p.is_file())


def human(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB" if n < 2**30 else f"{n / 2**30:.2f} GiB"


def test_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PLAYGROUND_"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


# --- steps -------------------------------------------------------------------------------------

def step_bundle(args) -> None:
    py = args.python
    try:
        subprocess.run([py, "-c", "import PyInstaller"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        raise BuildError(f"PyInstaller is not installed for {py}: "
                         "pip install -r packaging/requirements-package.txt") from None
    run([*NICE, py, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level",
         "WARN", "--distpath", DIST, "--workpath", ROOT / "build" / "pyinstaller",
         PACKAGING / "model-playground.spec"], cwd=ROOT)
    prune(BUNDLE)
    print(f"bundle: {BUNDLE} ({human(du(BUNDLE))})")


def prune(bundle: Path) -> None:
    """Files the hooks copy that nothing loads at run time (headers, static libraries, tests)."""
    internal = bundle / "_internal"
    removed = 0
    for pattern in ("**/*.a", "**/include", "**/*.h", "**/*.hpp", "**/*.cuh",
                    "torch/share/cmake", "**/tests", "caffe2", "PySide6/Qt/translations",
                    "PySide6/Qt/qml", "triton", "nvidia/*/include"):
        for p in list(internal.glob(pattern)):
            if not p.exists():
                continue
            removed += du(p)
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    print(f"pruned {human(removed)} of headers, static libraries and tests")


def step_selftest(args) -> None:
    if not EXE.is_file():
        raise BuildError(f"no bundle at {BUNDLE}; run the bundle step first")
    try:
        run([EXE, "--self-test"], env=test_env(), cwd=str(DIST))
    finally:
        if sys.platform == "win32":  # a GUI executable: its report is in a file, not stdout
            report = Path(os.environ.get("TEMP", ".")) / "model-playground-selftest.txt"
            if report.is_file():
                print(report.read_text(encoding="utf-8"), flush=True)


def _desktop_entry() -> str:
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=Model Playground",
        "GenericName=Deep learning playground",
        "Comment=Train, inspect and use PyTorch models by pointing and clicking",
        f"Exec={NAME} %F",
        f"Icon={NAME}",
        "Terminal=false",
        "Categories=Education;Science;ArtificialIntelligence;Development;",
        "Keywords=machine learning;neural network;pytorch;deep learning;",
        f"MimeType={';'.join(MIME_TYPES)};",
        "StartupWMClass=model-playground",
        ""])


def step_deb(args) -> Path:
    if not (BUNDLE / NAME).is_file():
        raise BuildError(f"no bundle at {BUNDLE}; run the bundle step first")
    if not shutil.which("dpkg-deb"):
        raise BuildError("dpkg-deb is not installed (apt install dpkg)")
    ver = version()
    root = ROOT / "build" / "deb" / NAME
    if root.exists():
        shutil.rmtree(root)
    opt = root / "opt" / NAME
    opt.parent.mkdir(parents=True)
    # hard links: no second copy of several GB; falls back to copying across file systems
    try:
        shutil.copytree(BUNDLE, opt, symlinks=True, copy_function=os.link)
    except OSError:
        shutil.rmtree(opt, ignore_errors=True)
        shutil.copytree(BUNDLE, opt, symlinks=True)
    (root / "usr/bin").mkdir(parents=True)
    wrapper = root / "usr/bin" / NAME
    wrapper.write_text(f'#!/bin/sh\nexec /opt/{NAME}/{NAME} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    apps = root / "usr/share/applications"
    apps.mkdir(parents=True)
    (apps / f"{NAME}.desktop").write_text(_desktop_entry(), encoding="utf-8")
    for size, src in (("512x512", "model-playground.png"), ("256x256", "model-playground-256.png")):
        icons = root / "usr/share/icons/hicolor" / size / "apps"
        icons.mkdir(parents=True)
        shutil.copy2(PACKAGING / "icons" / src, icons / f"{NAME}.png")
    doc = root / "usr/share/doc" / NAME
    doc.mkdir(parents=True)
    (doc / "copyright").write_text("Model Playground — MIT licence. Bundled third-party "
                                   "libraries keep their own licences (see "
                                   f"/opt/{NAME}/_internal).\n", encoding="utf-8")
    debian = root / "DEBIAN"
    debian.mkdir()
    size_kib = du(root) // 1024
    (debian / "control").write_text("\n".join([
        f"Package: {NAME}",
        f"Version: {ver}",
        "Section: science",
        "Priority: optional",
        "Architecture: amd64",
        f"Installed-Size: {size_kib}",
        f"Depends: {', '.join(DEB_DEPENDS)}",
        f"Recommends: {', '.join(DEB_RECOMMENDS)}",
        "Maintainer: Model Playground developers <maintainers@modelplayground.invalid>",
        "Description: desktop app for hands-on deep learning with PyTorch",
        " Train, inspect and use real models by pointing and clicking: image",
        " recognition, text generation and translation, speech recognition and a",
        f" model builder. Bundles its own Python, PyTorch ({args.variant} build) and Qt.",
        ""]), encoding="utf-8")
    hook = ("#!/bin/sh\nset -e\n"
            "command -v update-desktop-database >/dev/null 2>&1 && "
            "update-desktop-database -q /usr/share/applications || true\n"
            "command -v gtk-update-icon-cache >/dev/null 2>&1 && "
            "gtk-update-icon-cache -q -t /usr/share/icons/hicolor || true\n")
    for name in ("postinst", "postrm"):
        (debian / name).write_text(hook, encoding="utf-8")
        (debian / name).chmod(0o755)
    out = DIST / f"{NAME}_{ver}_amd64.deb"
    run([*NICE, "dpkg-deb", "--root-owner-group", f"-Z{args.deb_compress}",
         f"-z{args.level}", "--build", root, out])
    shutil.rmtree(root)
    print(f"deb: {out} ({human(du(out))})")
    return out


def step_tarball(args) -> Path:
    if not (BUNDLE / NAME).is_file():
        raise BuildError(f"no bundle at {BUNDLE}; run the bundle step first")
    ext, prog = {"zst": ("tar.zst", f"zstd -T0 -{args.level}"),
                 "xz": ("tar.xz", f"xz -T0 -{min(args.level, 9)}"),
                 "gz": ("tar.gz", "gzip -6")}[args.tar_compress]
    out = DIST / f"{NAME}-{version()}-linux-x86_64-{args.variant}.{ext}"
    (BUNDLE / "README.txt").write_text(
        "Model Playground (portable)\n\nRun ./model-playground to open the app, or "
        "./model-playground --self-test to check it works on this machine.\nNothing is "
        "installed: delete this folder to remove it.\n", encoding="utf-8")
    run([*NICE, "tar", "-I", prog, "-cf", out, "-C", DIST, NAME])
    print(f"tarball: {out} ({human(du(out))})")
    return out


def step_deb_test(args) -> None:
    deb = DIST / f"{NAME}_{version()}_amd64.deb"
    if not deb.is_file():
        raise BuildError(f"no .deb at {deb}; run the deb step first")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**test_env(), "DEBIAN_FRONTEND": "noninteractive"}
    if shutil.which("apt-get"):
        run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", deb], env=env)
    else:
        run([*sudo, "dpkg", "-i", deb], env=env)
    try:
        clean = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
                 "QT_QPA_PLATFORM": "offscreen", "LANG": "C.UTF-8"}
        found = shutil.which(NAME, path=clean["PATH"])
        if found != f"/usr/bin/{NAME}":
            raise BuildError(f"{NAME} on PATH is {found}, not the installed /usr/bin/{NAME}")
        run([NAME, "--self-test"], env=clean, cwd="/")
        if shutil.which("xvfb-run"):  # a real X display: the xcb plugin and system libraries
            shown = subprocess.run(
                ["xvfb-run", "-a", NAME], cwd="/", capture_output=True, text=True, timeout=300,
                env={**clean, "QT_QPA_PLATFORM": "xcb", "PLAYGROUND_STARTUP_PROBE": "exit"})
            if shown.returncode != 0 or "window-shown" not in shown.stdout:
                raise BuildError("the installed app did not open its window on an X display "
                                 f"(exit {shown.returncode}): {shown.stderr.strip()[-300:]}")
            print(f"deb-test: window shown on X (xvfb) after "
                  f"{float(shown.stdout.split('window-shown')[1].split()[0]):.2f} s")
    finally:
        run([*sudo, "dpkg", "-r", NAME], env=env)
    left = [p for p in (Path(f"/opt/{NAME}"), Path(f"/usr/bin/{NAME}"),
                        Path(f"/usr/share/applications/{NAME}.desktop")) if p.exists()]
    if left:
        raise BuildError(f"dpkg -r left {', '.join(map(str, left))} behind")
    print("deb-test: installed, self-test passed from PATH, removed cleanly")


def startup_times(runs: int = 3) -> list[float]:
    """Launch → main window shown, for the frozen app (its own PLAYGROUND_STARTUP_PROBE line
    measures from the interpreter's start; the wall clock here includes the bootloader)."""
    times = []
    for _ in range(runs):
        env = {**test_env(), "PLAYGROUND_STARTUP_PROBE": "exit",
               "PLAYGROUND_HOME": str(ROOT / "build" / "startup-home")}
        t0 = time.perf_counter()
        proc = subprocess.run([EXE], env=env, capture_output=True, text=True,
                              timeout=300)
        wall = time.perf_counter() - t0
        if "window-shown" not in proc.stdout:
            raise BuildError("the frozen app did not report its window "
                             f"(exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
        times.append(wall)
    return times


def step_sizes(args) -> None:
    figures: dict[str, object] = {"variant": args.variant}
    if BUNDLE.is_dir():
        figures["bundle_bytes"] = du(BUNDLE)
    for p in sorted(DIST.glob(f"{NAME}*")):
        if p.is_file():
            figures[p.name] = p.stat().st_size
    if EXE.is_file():
        times = startup_times()
        figures["startup_to_window_s"] = [round(t, 2) for t in times]
        figures["startup_median_s"] = round(statistics.median(times), 2)
    for key, value in figures.items():
        shown = human(value) if key.endswith(("bytes", ".deb", ".tar.zst", ".tar.xz", ".tar.gz")) \
            else value
        print(f"  {key}: {shown}")
    (DIST / "sizes.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")


STEPS = {"bundle": step_bundle, "selftest": step_selftest, "deb": step_deb,
         "tarball": step_tarball, "deb-test": step_deb_test, "sizes": step_sizes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("steps", nargs="+", choices=[*STEPS, "all"])
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter whose packages are bundled (default: this one)")
    parser.add_argument("--variant", default=os.environ.get("VARIANT", "gpu"),
                        choices=("gpu", "cpu"), help="names the outputs (default: gpu)")
    parser.add_argument("--deb-compress", default="zstd", choices=("zstd", "xz", "gzip"))
    parser.add_argument("--tar-compress", default="zst", choices=("zst", "xz", "gz"))
    parser.add_argument("--level", type=int, default=int(os.environ.get("PACKAGE_LEVEL", "9")),
                        help="compression level (default 9; 19 is smaller and much slower)")
    args = parser.parse_args(argv)
    steps = list(STEPS) if "all" in args.steps else args.steps
    t0 = time.perf_counter()
    try:
        for name in steps:
            t = time.perf_counter()
            print(f"== {name}", flush=True)
            STEPS[name](args)
            print(f"== {name} done in {time.perf_counter() - t:.0f} s", flush=True)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except subprocess.TimeoutExpired as exc:
        print(f"error: {exc.cmd[0]} took longer than {exc.timeout:.0f} s", file=sys.stderr)
        return 1
    print(f"packaging finished in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
