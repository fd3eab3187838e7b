"""Run every benchmark one after another (``make bench``); each writes benchmarks/results/*.json.

They run in sequence, never side by side, because each measures CPU time on a shared machine.
``python benchmarks/run_all.py [NAME ...]`` runs only the named ones (e.g. ``ui text_nanogpt``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ("ui", "image_predict", "image_accuracy", "text_nanogpt", "speech_keywords",
         "speech_ctc", "speech_rtf", "export")


def main(argv: list[str]) -> int:
    names = argv or list(ORDER)
    unknown = [n for n in names if not (HERE / f"bench_{n}.py").is_file()]
    if unknown:
        print(f"no such benchmark: {', '.join(unknown)}; choose from {', '.join(ORDER)}",
              file=sys.stderr)
        return 2
    failed = []
    for name in names:
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        code = subprocess.call([sys.executable, str(HERE / f"bench_{name}.py")])
        print(f"== {name}: exit {code} after {time.perf_counter() - start:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
