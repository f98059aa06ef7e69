"""What ``fer-analyze`` reads: image and video files named directly, found in folders (recursively) or by glob."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})
GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class Source:
    """One file to analyse: its ``path``, the ``name`` records carry (as given, or relative to the folder given),
    and its ``kind``: ``"image"`` or ``"video"`` (by extension; anything else is tried as an image)."""

    path: Path
    name: str
    kind: str


def kind_of(path: Path) -> str:
    """``"video"`` for a video's extension, else ``"image"``.

    Args:
        path: The file.

    Returns:
        Its kind.
    """
    return "video" if path.suffix.lower() in VIDEO_EXTENSIONS else "image"


def find_sources(arguments: list[str], follow_links: bool = False) -> tuple[list[Source], list[tuple[str, str]]]:
    """The files that ``arguments`` name, in order, each once.

    A file named directly is read even through a symbolic link: the user named it. In a folder, or under the folder
    a glob pattern starts from, a link that leads outside it is reported and not followed unless ``follow_links``
    (then links to folders are searched too, each folder once). Devices, FIFOs and sockets are never read.

    Args:
        arguments: Files, folders (searched recursively; hidden files and folders are left out) and glob
            patterns (``**`` matches folders at any depth).
        follow_links: Follow links that lead outside the folder searched.

    Returns:
        ``(sources, skipped)``: the files found, and ``(argument or link, reason)`` for arguments that name nothing
        and links not followed.
    """
    sources: list[Source] = []
    skipped: list[tuple[str, str]] = []
    seen: set[Path] = set()

    def add(path: Path, name: str) -> None:
        key = real_path(path)
        if key not in seen:
            seen.add(key)
            sources.append(Source(path, name, kind_of(path)))

    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            files, outside = folder_files(path, follow_links)
            skipped += [(link.as_posix(), _outside_reason(path)) for link in outside]
            if not files and not outside:
                skipped.append((argument, "an empty folder"))
            for file in files:
                add(file, file.relative_to(path).as_posix())
        elif path.is_file():
            add(path, argument)
        elif path.exists():
            skipped.append((argument, "not a regular file (a device, FIFO or socket)"))
        elif GLOB_CHARACTERS & set(argument):
            root = glob_root(argument)
            matches = sorted(Path(m) for m in glob.glob(argument, recursive=True) if Path(m).is_file())
            if not matches:
                skipped.append((argument, "no file matches this pattern"))
            for match in matches:
                if follow_links or is_inside(match, root):
                    add(match, match.as_posix())
                else:
                    skipped.append((match.as_posix(), _outside_reason(root)))
        else:
            skipped.append((argument, "no such file or folder"))
    return sources, skipped


def folder_files(folder: Path, follow_links: bool = False) -> tuple[list[Path], list[Path]]:
    """The regular files in ``folder`` and its subfolders, hidden ones left out, and the links not followed.

    Args:
        folder: The folder to search.
        follow_links: Follow links that lead outside ``folder`` (links to folders are searched, each folder once).

    Returns:
        ``(files, outside)``: the files, sorted, and the links leading outside ``folder`` that were not followed.
    """
    root = real_path(folder)
    files: list[Path] = []
    outside: list[Path] = []
    visited: set[Path] = set()
    for top, folders, names in os.walk(folder, followlinks=follow_links):
        here = Path(top)
        if follow_links:  # a link back up would walk for ever
            real = real_path(here)
            if real in visited:
                folders[:] = []
                continue
            visited.add(real)
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in folders:
            link = here / name
            if not follow_links and link.is_symlink() and not is_inside(link, root):
                outside.append(link)
        for name in names:
            path = here / name
            if name.startswith("."):
                continue
            if not follow_links and path.is_symlink() and not is_inside(path, root):
                outside.append(path)
            elif path.is_file():
                files.append(path)
    return sorted(files), sorted(outside)


def is_inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, with every link on the way resolved, lies in ``folder``.

    Args:
        path: A file or folder.
        folder: A folder, resolved.

    Returns:
        True if it does.
    """
    return real_path(path).is_relative_to(real_path(folder))


def real_path(path: Path) -> Path:
    """``path`` with every link on the way resolved; a link that loops stays as far as it resolves.

    ``Path.resolve`` raises RuntimeError on a loop (Python 3.11 and 3.12); a loop in an input folder is the user's
    file, to be skipped, not a crash.
    """
    return Path(os.path.realpath(path))


def glob_root(pattern: str) -> Path:
    """The folder a glob pattern searches from: its path up to the first part with a glob character.

    Args:
        pattern: The pattern (``shoots/**/*.jpg``).

    Returns:
        The folder (``shoots``; ``.`` for ``*.jpg``).
    """
    parts = Path(pattern).parts
    fixed = next((i for i, part in enumerate(parts) if GLOB_CHARACTERS & set(part)), len(parts))
    return Path(*parts[:fixed]) if fixed else Path(".")


def _outside_reason(folder: Path) -> str:
    return f"a link leading outside {folder.as_posix()}, not followed (--follow-links follows it)"
