"""Reading videos: local files only, limits on duration and frame size, where a video is split among processes."""

import os
import shutil
import socket

import cv2
import pytest

from serving_demo.analysis.video import (
    FFMPEG_CAPTURE_OPTIONS,
    VideoError,
    VideoLimits,
    frame_ranges,
    open_video,
    sampled_frames,
)
from tests.serving_demo.analysis.helpers import write_small_video, write_video_without_duration


def test_frame_ranges():
    assert frame_ranges(90, 2, 1) == [(0, 45), (45, None)]
    assert frame_ranges(90, 2, 30) == [(0, None)]  # too few analysed frames to share
    assert frame_ranges(601, 3, 7) == [(0, 203), (203, 406), (406, None)]  # split at multiples of the step


def frames_in(path) -> int:
    capture, _ = open_video(path)
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


@pytest.fixture
def listener():
    """A TCP server on this machine that records whether anything connected to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.setblocking(False)

    def connected() -> bool:
        try:
            server.accept()[0].close()
        except BlockingIOError:
            return False
        return True

    yield server.getsockname()[1], connected
    server.close()


def test_only_local_files_are_opened_never_urls_or_ffmpeg_protocols(tmp_path, monkeypatch, listener):
    port, connected = listener
    monkeypatch.chdir(tmp_path)
    write_small_video(tmp_path / "clip.mp4", frames=10)
    for url in [f"http://127.0.0.1:{port}/clip.mp4", f"rtsp://127.0.0.1:{port}/cam", "concat:clip.mp4|clip.mp4",
                f"file:{tmp_path}/clip.mp4", f"tcp://127.0.0.1:{port}"]:  # fmt: skip
        with pytest.raises(VideoError, match="only local video files are read, not URLs or FFmpeg protocols"):
            open_video(url)
    shutil.copy(tmp_path / "clip.mp4", tmp_path / "concat:clip.mp4|clip.mp4")  # a file of that name is a file
    assert frames_in("concat:clip.mp4|clip.mp4") == 10  # not the concat protocol's 2 x 10
    (tmp_path / "list.mp4").write_text(f"ffconcat version 1.0\nfile clip.mp4\nfile http://127.0.0.1:{port}/x.mp4\n")
    (tmp_path / "live.mkv").write_text(f"#EXTM3U\n#EXTINF:1.0,\nhttp://127.0.0.1:{port}/seg.ts\n#EXT-X-ENDLIST\n")
    for playlist in ["list.mp4", "live.mkv"]:  # lists that FFmpeg's concat and HLS demuxers would follow
        with pytest.raises(VideoError, match="not a video OpenCV can open"):
            open_video(playlist)
    assert not connected()
    os.mkfifo(tmp_path / "pipe.mp4")  # opening it would wait for a writer for ever
    with pytest.raises(VideoError, match="not a regular file"):
        open_video("pipe.mp4")
    with pytest.raises(VideoError, match="no such file"):
        open_video("gone.mp4")


def test_the_ffmpeg_options_are_set_only_while_a_video_is_opened(tmp_path, monkeypatch):
    write_small_video(tmp_path / "clip.mp4")
    monkeypatch.delenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", raising=False)
    open_video(tmp_path / "clip.mp4")[0].release()
    assert "OPENCV_FFMPEG_CAPTURE_OPTIONS" not in os.environ
    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "probesize;5000000")
    open_video(tmp_path / "clip.mp4")[0].release()
    assert os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] == "probesize;5000000"
    assert FFMPEG_CAPTURE_OPTIONS.startswith("protocol_whitelist;file|format_whitelist;mov,mp4,")


def test_videos_over_the_limits_are_refused(video, tmp_path):
    capture, info = open_video(video, VideoLimits(seconds=3.0, frame_pixels=640 * 480))  # at the limits: opened
    capture.release()
    with pytest.raises(VideoError, match=r"longer than the limit of 2.5 s \(--max-video-seconds\)"):
        open_video(video, VideoLimits(seconds=2.5))
    with pytest.raises(VideoError, match=r"640x480 frames, over the limit of 307199 pixels \(--max-frame-pixels\)"):
        open_video(video, VideoLimits(frame_pixels=640 * 480 - 1))


def test_a_container_that_does_not_say_how_long_it_is_is_stopped_at_the_limit(tmp_path):
    path = write_video_without_duration(tmp_path / "stream.mkv", frames=90)
    capture = cv2.VideoCapture(str(path))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) <= 0  # the container does not know
    capture.release()
    info, frames = sampled_frames(path, limits=VideoLimits(seconds=1.0))
    assert info.frames == 0
    read = []
    with pytest.raises(VideoError, match="longer than the limit of 1 s"):
        for index, _, _ in frames:
            read.append(index)
    assert read == list(range(31))  # frame 31 is at 1.03 s
