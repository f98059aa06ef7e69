"""Drawing: a box and a label per face, each class in its colour, whatever the export's class names."""

from __future__ import annotations

import numpy as np

from model_zoo.constants import FERPLUS_CLASS_NAMES
from serving_demo.drawing import EMOTION_COLOURS, draw_faces, emotion_colour
from serving_demo.results import FaceResult


def _face(emotion: str, box=(20, 40, 80, 80)) -> FaceResult:
    return FaceResult(box=box, emotion=emotion, confidence=0.87, probabilities={emotion: 0.87})


def test_every_fer_plus_class_has_a_colour_of_its_own():
    colours = [emotion_colour(name) for name in FERPLUS_CLASS_NAMES]
    assert colours == [EMOTION_COLOURS[name] for name in FERPLUS_CLASS_NAMES]
    assert len(set(colours)) == len(FERPLUS_CLASS_NAMES) == 8


def test_any_other_class_name_gets_a_light_colour_that_never_changes():
    colour = emotion_colour("wut")
    assert colour == emotion_colour("wut") == (100, 165, 150)  # derived from the name, the same on every machine
    assert emotion_colour("ugh") != colour and all(96 <= value <= 255 for value in emotion_colour("ugh"))
    assert "wut" not in EMOTION_COLOURS


def test_each_face_is_boxed_and_labelled_in_its_class_colour_and_the_input_is_left_alone():
    image = np.zeros((200, 240, 3), np.uint8)
    faces = [_face("Contempt"), _face("hm", box=(130, 40, 80, 80))]
    annotated = draw_faces(image, faces)
    assert not image.any()
    assert tuple(annotated[100, 20]) == EMOTION_COLOURS["Contempt"]  # the left edges of the boxes
    assert tuple(annotated[100, 130]) == emotion_colour("hm")
    label_band = annotated[:40, 20:100]  # above the box: the filled label with its text
    assert (label_band == EMOTION_COLOURS["Contempt"]).all(axis=2).any() and (label_band == 0).all(axis=2).any()
