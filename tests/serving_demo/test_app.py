"""The page's text follows the model it serves."""

from model_zoo.constants import CLASS_NAMES, FERPLUS_CLASS_NAMES
from serving_demo.app import about


def test_the_heading_names_the_classes_of_the_model_served():
    assert "one of 7 emotions (Angry, Disgust," in about(CLASS_NAMES) and "Contempt" not in about(CLASS_NAMES)
    assert "one of 8 emotions" in about(FERPLUS_CLASS_NAMES) and "Neutral, Contempt)" in about(FERPLUS_CLASS_NAMES)
