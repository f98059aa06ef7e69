"""What ``fer-analyze`` reads: image and video files named directly, found in folders (recursively) or by glob."""

from __future__ import annotations

import glob
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


def find_sources(arguments: list[str]) -> tuple[list[Source], list[tuple[str, str]]]:
    """The files that ``arguments`` name, in order, each once.

    Args:
        arguments: Files, folders (searched recursively; hidden files and folders are left out) and glob
            patterns (``**`` matches folders at any depth).

    Returns:
        ``(sources, missing)``: the files found, and ``(argument, reason)`` for arguments that name nothing.
    """
    sources: list[Source] = []
    missing: list[tuple[str, str]] = []
    seen: set[Path] = set()

    def add(path: Path, name: str) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            sources.append(Source(path, name, kind_of(path)))

    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not files:
                missing.append((argument, "an empty folder"))
            for file in files:
                add(file, file.relative_to(path).as_posix())
        elif path.is_file():
            add(path, argument)
        elif GLOB_CHARACTERS & set(argument):
            matches = sorted(Path(m) for m in glob.glob(argument, recursive=True) if Path(m).is_file())
            if not matches:
                missing.append((argument, "no file matches this pattern"))
            for match in matches:
                add(match, match.as_posix())
        else:
            missing.append((argument, "no such file or folder"))
    return sources, missing
