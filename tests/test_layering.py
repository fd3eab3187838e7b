"""The layering rule, enforced: the engine and the task packages never touch Qt.

``playground.core`` and the task packages (vision, text, speech, builder) and the CLI must import
with PySide6, shiboken6 and pyqtgraph blocked (as on a headless server), no file of theirs may
import them, and the UI must not import torch when its modules are imported (the window opens
before torch has loaded).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "playground"
QT_FREE = ("core", "vision", "text", "speech", "builder", "cli")
BLOCKED = ("PySide6", "shiboken6", "pyqtgraph")
TORCH = ("torch", "torchvision", "torchaudio")

IMPORT_ALL_BLOCKED = textwrap.dedent('''
    import importlib, importlib.abc, json, pkgutil, sys, traceback

    BLOCKED = {blocked!r}
    PACKAGES = {packages!r}

    class BlockQt(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{{name}} is blocked: Qt-free code must not import it")
            return None

    sys.meta_path.insert(0, BlockQt())
    report = {{"imported": [], "failed": {{}}, "blocked_works": False}}
    try:
        import PySide6  # noqa: F401
    except ImportError:
        report["blocked_works"] = True

    def record(name):
        report["failed"][name] = traceback.format_exc()

    def load(name):
        try:
            module = importlib.import_module(name)
        except BaseException:
            record(name)
            return None
        report["imported"].append(name)
        return module

    for name in PACKAGES:
        package = load(name)
        if package is None or not hasattr(package, "__path__"):
            continue
        for info in pkgutil.walk_packages(package.__path__, name + ".", onerror=record):
            if info.name.rsplit(".", 1)[-1] != "__main__" and info.name not in report["imported"]:
                load(info.name)
    report["leaked"] = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print(json.dumps(report))
''')

UI_WITHOUT_TORCH = textwrap.dedent('''
    import importlib, json, sys
    found = {{}}
    for name in {modules!r}:
        importlib.import_module(name)
        found[name] = sorted(m for m in {torch!r} if m in sys.modules)
    print(json.dumps(found))
''')


def _python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)


def _qt_free_packages() -> list[str]:
    names = []
    for pkg in QT_FREE:
        if (PACKAGE / pkg / "__init__.py").is_file() or (PACKAGE / f"{pkg}.py").is_file():
            names.append(f"playground.{pkg}")
    return names


def _qt_free_files() -> list[Path]:
    files = []
    for pkg in QT_FREE:
        files += sorted((PACKAGE / pkg).rglob("*.py")) if (PACKAGE / pkg).is_dir() else []
        if (PACKAGE / f"{pkg}.py").is_file():
            files.append(PACKAGE / f"{pkg}.py")
    return files


def _top(name: str | None) -> str:
    return (name or "").split(".")[0]


def qt_imports(source: str) -> list[tuple[int, str]]:
    """Every import of a Qt binding or pyqtgraph, at any depth (lazy ones too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if _top(a.name) in BLOCKED]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _top(node.module) in BLOCKED:
            found.append((node.lineno, node.module))
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_torch_imports(source: str) -> list[tuple[int, str]]:
    """Imports of torch that run when the module is imported (not inside a function)."""
    found: list[tuple[int, str]] = []

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.extend((node.lineno, a.name) for a in node.names if _top(a.name) in TORCH)
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0 and _top(node.module) in TORCH:
                    found.append((node.lineno, node.module))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue  # runs only when called: a lazy import
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            else:
                for name in ("body", "orelse", "finalbody"):
                    visit(getattr(node, name, []) or [])
                for handler in getattr(node, "handlers", []) or []:
                    visit(handler.body)
                for case in getattr(node, "cases", []) or []:
                    visit(case.body)

    visit(ast.parse(source).body)
    return found


# The checkers themselves must catch what they are meant to catch.
def test_qt_import_checker():
    assert qt_imports("import PySide6.QtCore") == [(1, "PySide6.QtCore")]
    assert qt_imports("def f():\n    from pyqtgraph import PlotWidget") == [(2, "pyqtgraph")]
    assert qt_imports("import shiboken6 as s, os") == [(1, "shiboken6")]
    assert qt_imports("from .PySide6 import x\nimport pyside_helpers\n# import PySide6") == []


def test_module_level_torch_checker():
    bad = ("import os\nimport torch.nn as nn\nclass A:\n    from torch import Tensor\n"
           "try:\n    import torchvision\nexcept ImportError:\n    pass\n")
    assert module_level_torch_imports(bad) == [(2, "torch.nn"), (4, "torch"), (6, "torchvision")]
    good = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n"
            "def f():\n    import torch\n    return torch\nclass B:\n    def g(self):\n"
            "        from torch import nn\nimport torchmetrics_like_name\n")
    assert module_level_torch_imports(good) == []


def test_qt_free_packages_import_with_qt_blocked():
    packages = _qt_free_packages()
    assert "playground.core" in packages
    proc = _python(IMPORT_ALL_BLOCKED.format(blocked=BLOCKED, packages=packages))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["blocked_works"], "the Qt blocker did not block PySide6"
    failures = "\n\n".join(f"{name}:\n{tb}" for name, tb in report["failed"].items())
    assert not report["failed"], f"Qt-free modules failed to import without Qt:\n{failures}"
    assert report["leaked"] == []
    imported = set(report["imported"])
    expected = {f"playground.core.{p.stem}" for p in (PACKAGE / "core").glob("*.py")
                if p.stem != "__init__"}
    assert expected <= imported, expected - imported
    assert {"playground.core.trainer", "playground.core.runs"} <= imported


def test_no_qt_import_in_qt_free_files():
    offenders = []
    for path in _qt_free_files():
        for line, name in qt_imports(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert _qt_free_files(), "no Qt-free files found"
    assert offenders == [], "\n".join(offenders)


def test_ui_modules_import_torch_lazily():
    ui_files = sorted((PACKAGE / "ui").rglob("*.py"))
    if not ui_files:
        pytest.skip("playground/ui does not exist yet")
    offenders = []
    for path in ui_files:
        for line, name in module_level_torch_imports(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name} at module level")
    assert offenders == [], "\n".join(offenders)


def test_ui_app_does_not_import_torch():
    modules = [m for m, f in [("playground.ui.app", "ui/app.py"),
                              ("playground.ui.main_window", "ui/main_window.py")]
               if (PACKAGE / f).is_file()]
    if not modules:
        pytest.skip("playground/ui/app.py does not exist yet")
    proc = _python(UI_WITHOUT_TORCH.format(modules=modules, torch=TORCH))
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found == {m: [] for m in modules}, f"imported at import time: {found}"
