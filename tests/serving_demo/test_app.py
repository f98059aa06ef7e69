"""The page's text follows the model it serves."""

import numpy as np

from model_zoo.constants import CLASS_NAMES, FERPLUS_CLASS_NAMES
from serving_demo.app import about


def test_the_heading_names_the_classes_of_the_model_served():
    assert "one of 7 emotions (Angry, Disgust," in about(CLASS_NAMES) and "Contempt" not in about(CLASS_NAMES)
    assert "one of 8 emotions" in about(FERPLUS_CLASS_NAMES) and "Neutral, Contempt)" in about(FERPLUS_CLASS_NAMES)


def test_a_webcam_picture_sent_again_is_skipped_not_analysed_twice():
    """The browser sends the video's current picture on every tick, new or not: a repeat costs no analysis and
    gives no new image (the session keeps a digest of the last picture, never the picture)."""
    import gradio as gr

    from export.benchmarks.webcam import camera_frame
    from serving_demo.app import build_demo
    from serving_demo.recognizer import EmotionRecognizer

    recognizer = EmotionRecognizer()
    demo = build_demo(recognizer)
    (analyze_frame,) = [f.fn for f in demo.fns.values() if f.fn.__name__ == "analyze_frame"]
    frame = camera_frame()
    options = (recognizer.backend, recognizer.detector_name, True, True)
    html, stats, state = analyze_frame(frame, *options, None)
    assert 'id="webcam-annotated"' in html and "1 face" in stats
    assert all(not isinstance(value, np.ndarray) for value in state.values())
    again = analyze_frame(frame.copy(), *options, state)
    assert isinstance(again[0], type(gr.skip())) and again[2] is state
    moved = np.roll(frame, 4, axis=1)
    html, stats, state = analyze_frame(moved, *options, state)
    assert 'id="webcam-annotated"' in html and "1 face" in stats
