"""An export's label mode: given, recorded in its metadata, or told by its classes; checked against them."""

from __future__ import annotations

import json

import pytest

from export.export_labels import export_label_mode, label_mode_of
from model_zoo.constants import CLASS_NAMES, FERPLUS_CLASS_NAMES, write_labels


def test_the_label_mode_is_the_one_given_the_trainings_or_the_only_one_with_the_classes():
    assert label_mode_of(CLASS_NAMES) == "fer2013"
    assert label_mode_of(FERPLUS_CLASS_NAMES, "ferplus-soft") == "ferplus-soft"
    assert label_mode_of(FERPLUS_CLASS_NAMES, None, {"labels": "ferplus-majority"}) == "ferplus-majority"
    assert label_mode_of(FERPLUS_CLASS_NAMES, "ferplus-soft", {"labels": "ferplus-majority"}) == "ferplus-soft"
    with pytest.raises(ValueError, match="Pass them: ferplus-majority or ferplus-soft"):
        label_mode_of(FERPLUS_CLASS_NAMES)
    with pytest.raises(ValueError, match="No label mode has these classes"):
        label_mode_of(("Happy", "Sad"))
    with pytest.raises(ValueError, match="Labels 'ferplus-majority' have the classes"):
        label_mode_of(CLASS_NAMES, None, {"labels": "ferplus-majority"})
    with pytest.raises(ValueError, match=r"Unknown label mode 'fer\+'"):
        label_mode_of(CLASS_NAMES, "fer+")


def test_an_exports_label_mode_comes_from_its_metadata_else_its_labels_txt(tmp_path):
    assert export_label_mode(tmp_path) == "fer2013"  # neither file: an export made by hand, FER2013's classes
    write_labels(tmp_path, FERPLUS_CLASS_NAMES)
    with pytest.raises(ValueError, match=f"{tmp_path} .*Pass them: ferplus-majority or ferplus-soft"):
        export_label_mode(tmp_path)
    assert export_label_mode(tmp_path, "ferplus-soft") == "ferplus-soft"
    (tmp_path / "metadata.json").write_text(json.dumps({"labels": "ferplus-majority"}))
    assert export_label_mode(tmp_path) == "ferplus-majority"
    with pytest.raises(ValueError, match="Labels 'fer2013' have the classes"):
        export_label_mode(tmp_path, "fer2013")
