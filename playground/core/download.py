"""Downloads of pretrained weights and datasets, as jobs.

Progress at most a few times a second, cancellable between chunks, written to a temporary file
and renamed into place (a cancelled or broken download never leaves a half file where a good
one is expected). Offline, the message names the file and the folder where it can be placed.

Downloads are verified as torch hub does: a file named like ``resnet18-f37072fd.pth`` carries
the first hex digits of its SHA-256 (:func:`hash_prefix_from_name`); a download whose checksum
does not start with them (or with an explicit ``sha256_prefix``) is deleted and reported, and
nothing is placed in the cache. A file already in the cache is trusted, like torch hub's (it
may have been placed there by hand, as the offline message suggests).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from playground.core import events as ev
from playground.core.errors import JobCancelled, WeightsUnavailable
from playground.core.jobs import JobContext

# torch.hub's convention: "<name>-<first hex digits of the sha256>.<ext>" (8 in torchvision)
HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.")


def hash_prefix_from_name(name: str) -> str | None:
    """``resnet18-f37072fd.pth`` -> ``f37072fd``; None when the name carries no hash."""
    match = HASH_IN_NAME.search(os.path.basename(name))
    return match.group(1) if match else None


def download_file(url: str, dest: str | os.PathLike, ctx: JobContext | None = None, *,
                  sha256_prefix: str | None = None, check_hash: bool = True,
                  timeout: float = 20.0, what: str = "file") -> Path:
    """Fetch ``url`` to ``dest`` unless it is already there; return ``dest``.

    The download is checked against ``sha256_prefix``, else (with ``check_hash``) against the
    hash the file name carries (``dest``'s, else the URL's); a mismatch deletes it and raises
    :class:`WeightsUnavailable`.
    """
    dest = Path(dest)
    if sha256_prefix is None and check_hash:
        sha256_prefix = (hash_prefix_from_name(dest.name)
                         or hash_prefix_from_name(url.split("?")[0]))
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
    digest = hasher.hexdigest()
    if sha256_prefix and not digest.startswith(sha256_prefix.lower()):
        tmp.unlink(missing_ok=True)
        raise WeightsUnavailable(
            f"The downloaded {what} {dest.name} is corrupt: its SHA-256 checksum begins "
            f"{digest[:len(sha256_prefix)]}, not {sha256_prefix.lower()} as expected, so it "
            f"was deleted and nothing was placed in {dest.parent}. Try again (an interrupted "
            f"connection or a proxy can damage a download), or download {url} on another "
            f"machine and place it at {dest}.")
    os.replace(tmp, dest)
    if ctx is not None:
        ctx.emit(ev.Progress(1, 1, f"downloaded {dest.name}", unit="file"))
    return dest
