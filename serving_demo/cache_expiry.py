"""Cached uploads and results expire, so the demo's disk use and memory stay flat however long it serves.

Gradio keeps every upload and every returned file in its cache directory (``GRADIO_TEMP_DIR``, by default
``gradio`` in the system temp directory), each in a folder named by a hash of its content, and remembers each path
in a set per component. ``gr.Blocks(delete_cache=(every, older))`` should delete them, but in Gradio 6.31 its task
iterates those live sets from a worker thread while requests add to them: under steady traffic it soon fails with
``RuntimeError: Set changed size during iteration``, silently, and from then on deletes nothing (the soak test
found it: uploads piled up while everything else expired). ``cache_expiry_lifespan`` replaces it:

- ``expire_tracked_files`` does what ``delete_cache`` does (delete the files this app created once they are older
  than the expiry, except the ones Gradio keeps, such as the examples) on snapshots of the sets, and forgets paths
  whose files are gone, so the sets do not grow either;
- ``sweep_cache`` removes what Gradio leaves behind: the folders it empties (one per distinct upload or result),
  the ``tmp*`` files at the top of the cache (the empty file ``gr.File(type="filepath")`` creates there on every
  request and never deletes, and the staging files of uploads cut off by the client), and the demo's own
  annotated photos and their staging files left by a process killed before its shutdown clean-up.

``CacheExpiry`` picks the clean-up interval from the expiry. Nothing younger than the expiry is touched, so a
folder just created for a file about to be written is safe. One race remains, too narrow to matter: a folder
emptied more than the expiry ago receiving a file again (an identical upload) in the microseconds between the
sweep's check and its removal; the demo's own writer retries then.
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


def expire_tracked_files(blocks: Any, older_than_s: float | None, now: float | None = None) -> int:
    """Delete the cached files a Gradio app created once they are older than ``older_than_s``; forget the gone ones.

    What ``gr.Blocks(delete_cache=...)`` does, safe to run in a worker thread while requests come in: it reads
    snapshots of the app's sets of cached paths (``blocks.temp_file_sets``; copying a set of strings is atomic
    under the GIL) and removes the deleted paths from them in one call. Paths a component keeps
    (``keep_in_cache``: the examples) stay. Paths whose files are already gone are forgotten too.

    Args:
        blocks: The ``gr.Blocks``.
        older_than_s: The expiry in seconds, compared with the later of each file's modification and change time;
            None deletes every file the app created (what Gradio does when the server closes).
        now: The current time (default: ``time.time()``).

    Returns:
        The number of files deleted.
    """
    cutoff = None if older_than_s is None else (time.time() if now is None else now) - older_than_s
    kept: set[str] = set()
    for block in list(blocks.blocks.values()):
        kept.update(list(getattr(block, "keep_in_cache", ())))
    deleted = 0
    for tracked in list(blocks.temp_file_sets):
        forget = set()
        for path in list(tracked):
            if path in kept:
                continue
            try:
                if cutoff is None or _older_than(Path(path), cutoff):
                    os.remove(path)
                    deleted += 1
                    forget.add(path)
            except FileNotFoundError:
                forget.add(path)
            except OSError:
                continue
        tracked.difference_update(forget)
    return deleted


def cache_expiry_lifespan(
    blocks: Any, cache_dir: str | Path, expiry: CacheExpiry
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A FastAPI lifespan expiring ``blocks``' cached files and sweeping ``cache_dir`` every ``expiry.every_s`` s.

    Pass it to ``Blocks.launch(app_kwargs={"lifespan": ...})`` with the Blocks' own ``delete_cache`` off (see the
    module's docstring): it runs while the server runs, in a worker thread so that requests go on, and when the
    server closes it stops and deletes every file the app created, as ``delete_cache`` would.

    Args:
        blocks: The ``gr.Blocks`` being served.
        cache_dir: Gradio's cache directory (``gradio.utils.get_upload_folder()``).
        expiry: The demo's cache expiry.

    Returns:
        The lifespan: a function of the app returning an async context manager.
    """

    def clean_up() -> None:
        expire_tracked_files(blocks, expiry.older_than_s)
        sweep_cache(cache_dir, expiry.older_than_s)

    async def clean_up_forever() -> None:
        while True:
            await asyncio.sleep(expiry.every_s)
            await asyncio.to_thread(clean_up)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:  # noqa: ARG001 - the lifespan protocol passes the app
        task = asyncio.create_task(clean_up_forever())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.to_thread(expire_tracked_files, blocks, None)

    return lifespan
