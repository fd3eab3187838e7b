"""What every speech benchmark writes: the machine it ran on and one JSON report."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def machine() -> dict:
    return {"platform": platform.platform(), "cpus": os.cpu_count(),
            "note": "shared with other work; timings are noisy"}


def write_report(path, report: dict) -> None:
    """``report`` plus the machine, as JSON at ``path``; says where it went."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**report, "machine": machine()}, indent=2) + "\n")
    print(f"wrote {path}")
