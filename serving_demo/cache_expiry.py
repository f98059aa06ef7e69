"""Cached uploads and results expire, so the demo's disk use stays flat however long it serves.

Gradio keeps every upload and every returned file in its cache directory (``GRADIO_TEMP_DIR``, by default
``gradio`` in the system temp directory), each in a folder named by a hash of its content.
``gr.Blocks(delete_cache=(every, older))`` deletes the files this process tracks once they are older than
``older`` seconds, checking every ``every`` seconds; ``CacheExpiry`` picks both from one number. Gradio leaves
behind what it does not track, which ``sweep_cache`` removes on the same schedule (``cache_sweeper``):

- the folders it emptied (one per distinct upload or result: thousands a day on a busy demo);
- the demo's own annotated photos (``annotated.jpg`` in a hashed folder, and staging files of an interrupted
  write), which a process killed before its shutdown clean-up leaves for the next one;
- ``tmp*`` files at the top of the cache: the empty file ``gr.File(type="filepath")`` creates there on every
  request and never deletes (Gradio 6.31), and the staging files of uploads cut off by the client.

Nothing younger than the expiry is touched, so a folder just created for a file about to be written is safe. One
race remains, too narrow to matter: a folder emptied more than the expiry ago receiving a file again (an identical
upload) in the microseconds between the sweep's check and its removal; the demo's own writer retries then.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The file name of the demo's annotated photos in the cache (see ``serving_demo.app.save_annotated_jpeg``).
ANNOTATED_NAME = "annotated.jpg"
_HASHED_FOLDER = re.compile(r"[0-9a-f]{64}")
_ANNOTATED_STAGING = re.compile(r"\.annotated\..*\.partial\.jpg")


@dataclass(frozen=True)
class CacheExpiry:
    """How long cached uploads and results live.

    Attributes:
        older_than_s: A cached file is deleted once it is older than this (seconds, at least 1).
    """

    older_than_s: int

    def __post_init__(self):
        if self.older_than_s < 1:
            raise ValueError(f"the cache expiry must be at least 1 second, not {self.older_than_s}")

    @property
    def every_s(self) -> int:
        """Seconds between two clean-ups: a tenth of the expiry, 1 to 60, so a file outlives it by at most 10 %."""
        return max(1, min(60, self.older_than_s // 10))

    @property
    def delete_cache(self) -> tuple[int, int]:
        """``(every, older)``, as ``gr.Blocks(delete_cache=...)`` takes it."""
        return self.every_s, self.older_than_s


def _older_than(path: Path, cutoff: float) -> bool:
    stat = path.lstat()
    return max(stat.st_mtime, stat.st_ctime) < cutoff


def sweep_cache(cache_dir: str | Path, older_than_s: float, now: float | None = None) -> int:
    """Remove from Gradio's cache what Gradio's own expiry leaves behind, once older than ``older_than_s``.

    That is: empty folders at the top of the cache; ``annotated.jpg`` in a hash-named folder (and that folder
    when it is left empty) and the staging files of its atomic writes; ``tmp*`` files at the top of the cache.
    Anything else, and anything younger, is left alone. Entries that vanish or cannot be removed meanwhile
    (another process's, a race with Gradio) are skipped.

    Args:
        cache_dir: Gradio's cache directory; nothing happens if it does not exist.
        older_than_s: The expiry, in seconds, compared with the later of each entry's modification and change time.
        now: The current time (default: ``time.time()``).

    Returns:
        The number of files and folders removed.
    """
    cache = Path(cache_dir)
    cutoff = (time.time() if now is None else now) - older_than_s
    removed = 0
    try:
        entries = list(os.scandir(cache))
    except OSError:
        return 0
    for entry in entries:
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                if _HASHED_FOLDER.fullmatch(entry.name):
                    for child in list(path.iterdir()):
                        ours = child.name == ANNOTATED_NAME or _ANNOTATED_STAGING.fullmatch(child.name)
                        if ours and child.is_file() and _older_than(child, cutoff):
                            child.unlink()
                            removed += 1
                if _older_than(path, cutoff) and not any(path.iterdir()):
                    path.rmdir()
                    removed += 1
            elif entry.name.startswith("tmp") and entry.is_file(follow_symlinks=False) and _older_than(path, cutoff):
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def cache_sweeper(cache_dir: str | Path, expiry: CacheExpiry) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A FastAPI lifespan that runs ``sweep_cache(cache_dir, expiry.older_than_s)`` every ``expiry.every_s`` seconds.

    Pass it to ``Blocks.launch(app_kwargs={"lifespan": ...})``: Gradio runs it beside its own ``delete_cache``
    task while the server runs, and it stops when the server closes.

    Args:
        cache_dir: Gradio's cache directory (``gradio.utils.get_upload_folder()``).
        expiry: The demo's cache expiry.

    Returns:
        The lifespan: a function of the app returning an async context manager.
    """

    async def sweep_forever() -> None:
        while True:
            await asyncio.sleep(expiry.every_s)
            await asyncio.to_thread(sweep_cache, cache_dir, expiry.older_than_s)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:  # noqa: ARG001 - the lifespan protocol passes the app
        task = asyncio.create_task(sweep_forever())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan
