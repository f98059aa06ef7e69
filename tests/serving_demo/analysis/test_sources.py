"""What fer-analyze reads: files named, folders searched, glob patterns, each file once."""

from pathlib import Path

from serving_demo.analysis.sources import Source, find_sources


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
