"""Downloads of pretrained weights and datasets, as jobs.

Progress at most a few times a second, cancellable between chunks, written to a temporary file
and renamed into place (a cancelled or broken download never leaves a half file where a good
one is expected). Offline, the message names the file and the folder where it can be placed.
"""

from __future__ import annotations

import hashlib
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from playground.core import events as ev
from playground.core.errors import JobCancelled, WeightsUnavailable
from playground.core.jobs import JobContext


def download_file(url: str, dest: str | os.PathLike, ctx: JobContext | None = None, *,
                  sha256_prefix: str | None = None, timeout: float = 20.0,
                  what: str = "file") -> Path:
    """Fetch ``url`` to ``dest`` unless it is already there; return ``dest``."""
    dest = Path(dest)
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    hasher = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done, last = 0, 0.0
            while True:
                if ctx is not None:
                    ctx.check_cancelled()
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                out.write(chunk)
                hasher.update(chunk)
                done += len(chunk)
                now = time.monotonic()
                if ctx is not None and now - last >= 0.25:
                    last = now
                    ctx.emit(ev.Progress(done, total, f"downloading {dest.name}", unit="byte"))
    except JobCancelled:
        tmp.unlink(missing_ok=True)
        raise
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        tmp.unlink(missing_ok=True)
        raise WeightsUnavailable(
            f"Could not download the {what} {dest.name} ({getattr(exc, 'reason', exc)}). "
            f"You seem to be offline. Download {url} on a connected machine and place it at "
            f"{dest} (folder {dest.parent}), then try again.") from exc
    if sha256_prefix and not hasher.hexdigest().startswith(sha256_prefix):
        tmp.unlink(missing_ok=True)
        raise WeightsUnavailable(f"The downloaded {what} {dest.name} is corrupt (checksum "
                                 "mismatch). Try again.")
    os.replace(tmp, dest)
    if ctx is not None:
        ctx.emit(ev.Progress(1, 1, f"downloaded {dest.name}", unit="file"))
    return dest
