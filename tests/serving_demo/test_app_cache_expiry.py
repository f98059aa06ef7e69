"""What the demo's cache expiry removes from Gradio's cache, and what it leaves: real files in a temporary folder,
tracked by a real ``gr.Blocks``.

The whole demo, expiring its cache as it serves, is tested by the soak benchmark's test
(``tests/export/benchmarks/test_soak.py``), on a server process with a cache of its own.
"""

import time

import numpy as np
import pytest

from serving_demo.cache_expiry import CacheExpiry, cache_expiry_lifespan, expire_tracked_files, sweep_cache

HASH = "0123456789abcdef" * 4  # a folder name as Gradio and the demo give them: 64 hex digits


def make_cache(root):
    """A cache as Gradio and the demo leave it; returns the paths by what they are."""
    paths = {
        "result": root / HASH / "annotated.jpg",
        "upload": root / HASH.replace("0", "a") / "photo.jpg",
        "staging": root / HASH.replace("1", "b") / ".annotated.x1y2.partial.jpg",
        "emptied": root / HASH.replace("2", "c"),
        "other_folder": root / "vibe_edit_history",
        "upload_staging": root / "tmpk2j4h5",
        "someone_elses": root / "notes.txt",
        "in_other_folder": root / "somewhere" / "annotated.jpg",
    }
    for name, path in paths.items():
        if name in ("emptied", "other_folder"):
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
    return paths


def test_young_entries_are_left_alone(tmp_path):
    paths = make_cache(tmp_path)
    assert sweep_cache(tmp_path, older_than_s=60) == 0
    assert all(p.exists() for p in paths.values())


def test_once_expired_only_what_gradio_leaves_behind_goes(tmp_path):
    paths = make_cache(tmp_path)
    later = time.time() + 120  # two minutes on: everything above is older than the 60 s expiry
    removed = sweep_cache(tmp_path, older_than_s=60, now=later)
    gone = {name for name, path in paths.items() if not path.exists()}
    # The demo's result, the staging file of an interrupted write, their folders once empty, the empty folders,
    # Gradio's upload staging file.
    assert gone == {"result", "staging", "emptied", "other_folder", "upload_staging"}
    assert not paths["result"].parent.exists() and not paths["staging"].parent.exists()
    assert removed == 7
    # Left: an upload (Gradio's own expiry deletes it), files that are not the demo's or not where it writes.
    assert {"upload", "someone_elses", "in_other_folder"} <= {n for n, p in paths.items() if p.exists()}


def test_a_missing_cache_is_nothing_to_sweep(tmp_path):
    assert sweep_cache(tmp_path / "none", older_than_s=1) == 0


def test_the_demo_writes_again_into_a_folder_the_sweeper_removed(tmp_path):
    from serving_demo.app import save_annotated_jpeg

    image = np.zeros((64, 64, 3), np.uint8)
    path = save_annotated_jpeg(image, str(tmp_path), "salt")
    assert sweep_cache(tmp_path, older_than_s=1, now=time.time() + 60) == 2  # the photo, then its folder
    assert save_annotated_jpeg(image, str(tmp_path), "salt") == path
    with open(path, "rb") as f:
        assert f.read(2) == b"\xff\xd8"


@pytest.mark.parametrize("older,every", [(1, 1), (30, 3), (600, 60), (3600, 60)])
def test_clean_up_interval_is_a_tenth_of_the_expiry_within_1_to_60_s(older, every):
    assert CacheExpiry(older).every_s == every
    assert CacheExpiry(older).delete_cache == (every, older)


def test_expiry_below_a_second_is_refused():
    with pytest.raises(ValueError, match="at least 1 second"):
        CacheExpiry(0)


def blocks_tracking(paths, kept=()):
    """A Gradio app whose upload set tracks ``paths``, its File component keeping ``kept``."""
    import gradio as gr

    with gr.Blocks() as demo:
        photo = gr.File()
    demo.upload_file_set.update(str(p) for p in paths)
    photo.keep_in_cache.update(str(p) for p in kept)
    return demo


def write_files(directory, count):
    paths = []
    for i in range(count):
        path = directory / f"{i:064x}" / "photo.jpg"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
        paths.append(path)
    return paths


def test_tracked_files_expire_kept_ones_stay_and_gone_ones_are_forgotten(tmp_path):
    upload, example, gone = write_files(tmp_path, 3)
    demo = blocks_tracking([upload, example, gone], kept=[example])
    gone.unlink()
    assert expire_tracked_files(demo, older_than_s=60) == 0  # young: kept
    assert upload.exists() and demo.upload_file_set == {str(upload), str(example)}  # the gone one forgotten
    assert expire_tracked_files(demo, older_than_s=60, now=time.time() + 120) == 1
    assert not upload.exists() and example.exists() and demo.upload_file_set == {str(example)}


def test_expiry_goes_on_while_requests_add_files(tmp_path):
    """Gradio 6.31's delete_cache fails here (``gradio.route_utils.delete_files_created_by_app`` raises "Set
    changed size during iteration"), and its task then stops for good."""
    import threading

    paths = write_files(tmp_path, 2000)
    demo = blocks_tracking(paths[:1000])
    stop = threading.Event()

    def add_uploads():
        for path in paths[1000:]:
            if stop.is_set():
                return
            demo.upload_file_set.add(str(path))
            time.sleep(0.0005)  # as requests arrive: interleaved with the clean-up's iteration

    adder = threading.Thread(target=add_uploads)
    adder.start()
    try:
        deleted = 0
        while adder.is_alive():
            deleted += expire_tracked_files(demo, older_than_s=0, now=time.time() + 1)
        deleted += expire_tracked_files(demo, older_than_s=0, now=time.time() + 1)  # those added last
    finally:
        stop.set()
        adder.join()
    assert deleted == len(paths) and not demo.upload_file_set
    assert not any(p.exists() for p in paths)


def test_the_lifespan_expires_and_sweeps_while_the_app_lives_and_clears_at_shutdown(tmp_path):
    import asyncio

    old, young = write_files(tmp_path, 2)
    demo = blocks_tracking([old, young])

    async def serve_for_a_while() -> tuple[bool, bool, bool]:
        async with cache_expiry_lifespan(demo, tmp_path, CacheExpiry(4))(app=None):  # a clean-up every second
            await asyncio.sleep(2.5)
            young.touch()  # rewritten: young again
            await asyncio.sleep(3.0)  # old is 5.5 s old, past the 4 s expiry; young 3 s
            return old.exists(), old.parent.exists(), young.exists()

    old_file, old_folder, young_file = asyncio.run(serve_for_a_while())
    assert not old_file and young_file
    assert old_folder  # emptied just now: removed only once it is older than the expiry itself
    assert not young.exists()  # the server closed: every file the app created is deleted, as Gradio does
