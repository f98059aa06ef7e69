"""What fer-analyze reads: files named, folders searched, glob patterns, each file once."""

import os
from pathlib import Path

from serving_demo.analysis.sources import Source, find_sources, glob_root


def test_folders_files_and_patterns_give_each_file_once_with_its_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ["photos/a.jpg", "photos/sub/b.PNG", "photos/.hidden/c.jpg", "photos/.d.jpg", "clips/talk.MKV"]:
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_bytes(b"")
    Path("empty").mkdir()
    sources, missing = find_sources(["photos", "photos/a.jpg", "clips/*.MKV", "nothing.jpg", "*.gif", "empty"])
    assert sources == [
        Source(Path("photos/a.jpg"), "a.jpg", "image"),
        Source(Path("photos/sub/b.PNG"), "sub/b.PNG", "image"),
        Source(Path("clips/talk.MKV"), "clips/talk.MKV", "video"),
    ]
    assert missing == [
        ("nothing.jpg", "no such file or folder"),
        ("*.gif", "no file matches this pattern"),
        ("empty", "an empty folder"),
    ]


def test_a_double_star_pattern_searches_every_depth(tmp_path):
    for name in ["x/1.jpg", "x/y/2.jpg", "x/y/z/3.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    sources, missing = find_sources([f"{tmp_path}/**/*.jpg"])
    assert [s.path.relative_to(tmp_path).as_posix() for s in sources] == ["x/1.jpg", "x/y/2.jpg"] and not missing


def test_links_leading_outside_a_folder_are_reported_not_followed_unless_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ["photos/a.jpg", "photos/sub/b.jpg", "secret/key.jpg", "secret/deep/c.jpg"]:
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_bytes(b"")
    Path("photos/key.jpg").symlink_to(tmp_path / "secret/key.jpg")
    Path("photos/deep").symlink_to(tmp_path / "secret/deep", target_is_directory=True)
    Path("photos/again.jpg").symlink_to("sub/b.jpg")  # inside: followed, and b.jpg read once
    Path("photos/sub/loop").symlink_to("..", target_is_directory=True)  # inside, back up: never walked for ever
    reason = "a link leading outside photos, not followed (--follow-links follows it)"
    sources, skipped = find_sources(["photos"])
    assert [s.name for s in sources] == ["a.jpg", "again.jpg"]  # sub/b.jpg is again.jpg's file
    assert skipped == [("photos/deep", reason), ("photos/key.jpg", reason)]
    sources, skipped = find_sources(["photos/*.jpg"])
    assert [s.name for s in sources] == ["photos/a.jpg", "photos/again.jpg"]
    assert skipped == [("photos/key.jpg", reason)]
    followed, skipped = find_sources(["photos"], follow_links=True)
    assert sorted(s.path.resolve().relative_to(tmp_path).as_posix() for s in followed) == [
        "photos/a.jpg", "photos/sub/b.jpg", "secret/deep/c.jpg", "secret/key.jpg"
    ] and not skipped  # fmt: skip
    named, skipped = find_sources(["photos/key.jpg"])  # a link named by the user is the user's choice
    assert [s.name for s in named] == ["photos/key.jpg"] and not skipped


def test_devices_and_fifos_are_never_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "a.jpg").write_bytes(b"")
    sources, skipped = find_sources([str(tmp_path), str(tmp_path / "pipe.jpg"), "/dev/null"])
    assert [s.name for s in sources] == ["a.jpg"]
    assert skipped == [
        (str(tmp_path / "pipe.jpg"), "not a regular file (a device, FIFO or socket)"),
        ("/dev/null", "not a regular file (a device, FIFO or socket)"),
    ]


def test_a_glob_pattern_searches_from_its_fixed_folder():
    assert glob_root("shoots/**/*.jpg") == Path("shoots")
    assert glob_root("/data/2024-*/x.jpg") == Path("/data")
    assert glob_root("*.jpg") == Path(".")
