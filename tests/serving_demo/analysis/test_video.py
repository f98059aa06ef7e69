"""Reading videos: where a video is split among processes."""

from serving_demo.analysis.video import frame_ranges


def test_frame_ranges():
    assert frame_ranges(90, 2, 1) == [(0, 45), (45, None)]
    assert frame_ranges(90, 2, 30) == [(0, None)]  # too few analysed frames to share
    assert frame_ranges(601, 3, 7) == [(0, 203), (203, 406), (406, None)]  # split at multiples of the step
