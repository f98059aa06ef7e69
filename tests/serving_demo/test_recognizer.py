import cv2
import numpy as np
import pytest

from model_zoo.artifacts import BACKENDS, DEFAULT_BACKEND
from model_zoo.constants import CLASS_NAMES, FERPLUS_CLASS_NAMES
from serving_demo.detectors import DEFAULT_DETECTOR, DETECTORS, make_detector
from serving_demo.drawing import EMOTION_COLOURS, draw_faces
from serving_demo.image_io import ImageInputError
from serving_demo.recognizer import EmotionRecognizer
from serving_demo.results import NO_FACE_MESSAGE, face_results
from tests.eight_class import eight_class_faces
from tests.images import ASTRONAUT_FACE_CENTRE, astronaut, frame_640x480, rotated_astronaut, two_astronauts


@pytest.fixture(scope="module")
def recognizer(exported):
    return EmotionRecognizer(exported.out_dir)


def test_output_schema(recognizer):
    analysis = recognizer.analyze(astronaut())
    assert len(analysis.faces) == 1 and analysis.backend == DEFAULT_BACKEND == "tflite-int8"
    assert recognizer.class_names == CLASS_NAMES  # from the export's labels.txt
    face = analysis.faces[0]
    x, y, w, h = face.box
    assert x <= ASTRONAUT_FACE_CENTRE[0] <= x + w and y <= ASTRONAUT_FACE_CENTRE[1] <= y + h
    assert face.emotion in CLASS_NAMES and list(face.probabilities) == list(CLASS_NAMES)
    assert face.confidence == max(face.probabilities.values())
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=0.02)
    assert analysis.detect_ms > 0 and analysis.classify_ms > 0 and analysis.image_size == (512, 512)
    record = analysis.to_dict()
    assert set(record) == {
        "faces", "backend", "detector", "image_size", "detect_ms", "classify_ms", "total_ms", "message"
    }  # fmt: skip
    assert analysis.detector == record["detector"] == DEFAULT_DETECTOR
    assert record["faces"][0]["box"] == face.box


def test_every_backend_is_available_and_switchable(recognizer):
    assert recognizer.available_backends() == list(BACKENDS)
    results = {name: recognizer.analyze(astronaut(), backend=name) for name in BACKENDS}
    reference = results["keras"].faces[0]
    for name, analysis in results.items():
        face = analysis.faces[0]
        assert analysis.backend == name and face.box == reference.box
        assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=0.02)
        # Float backends give Keras' answer; how close the others come is the parity gate's job,
        # and this astronaut is far from the generated faces the tiny model was calibrated on.
        if name in ("keras-eager", "saved_model", "tflite-fp32", "tflite-fp16"):
            tolerance = 1e-2 if name == "tflite-fp16" else 1e-3
            assert face.probabilities == pytest.approx(reference.probabilities, abs=tolerance), name
    # Predictors are loaded once and cached.
    assert recognizer.predictor("tflite-fp32") is recognizer.predictor("tflite-fp32")
    assert recognizer.analyze(astronaut(), backend="tflite-int8").backend == "tflite-int8"


def test_input_forms_give_the_same_faces(recognizer, tmp_path):
    rgb = astronaut()
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    boxes = {
        "rgb": recognizer.analyze(rgb).faces[0].box,
        "bgr": recognizer.analyze(rgb[..., ::-1].copy(), channel_order="bgr").faces[0].box,
        "path": recognizer.analyze(path).faces[0].box,
        "bytes": recognizer.analyze(path.read_bytes()).faces[0].box,
    }
    assert len(set(boxes.values())) == 1, boxes
    assert len(recognizer.analyze(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)).faces) == 1


def test_no_face_is_a_result_not_an_error(recognizer):
    analysis = recognizer.analyze(np.full((240, 320, 3), 200, np.uint8))
    assert analysis.faces == [] and analysis.message == NO_FACE_MESSAGE


def test_errors(recognizer, exported, tmp_path):
    with pytest.raises(ValueError, match="Unknown backend 'onnx'"):
        recognizer.analyze(astronaut(), backend="onnx")
    with pytest.raises(ImageInputError):
        recognizer.analyze(b"junk")
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "model_int8.tflite").write_bytes((exported.out_dir / "model_int8.tflite").read_bytes())
    only_int8 = EmotionRecognizer(partial)
    assert only_int8.available_backends() == ["tflite-int8"]
    with pytest.raises(ValueError, match="needs .*model.keras, which is missing"):
        only_int8.analyze(astronaut(), backend="keras")
    with pytest.raises(FileNotFoundError):
        EmotionRecognizer(tmp_path / "nothing")


def test_drawing_marks_each_face_and_leaves_the_input_alone(recognizer):
    rgb = astronaut()
    analysis = recognizer.analyze(rgb)
    annotated = draw_faces(rgb, analysis.faces)
    assert annotated.shape == rgb.shape and not np.array_equal(annotated, rgb)
    np.testing.assert_array_equal(rgb, astronaut())
    x, y, w, h = analysis.faces[0].box
    changed = np.any(annotated != rgb, axis=2)
    assert changed[y : y + h, x].all()  # the box's left edge is drawn


def _int8_only_export(exported, directory, labels: list[str] | None):
    directory.mkdir()
    (directory / "model_int8.tflite").write_bytes((exported.out_dir / "model_int8.tflite").read_bytes())
    if labels is not None:
        (directory / "labels.txt").write_text("\n".join(labels) + "\n")
    return directory


def test_class_names_come_from_the_exports_labels(recognizer, exported, tmp_path):
    names = ["wut", "ugh", "eek", "yay", "meh", "oh", "hm"]
    renamed = EmotionRecognizer(_int8_only_export(exported, tmp_path / "renamed", names))
    assert renamed.class_names == tuple(names)
    face = renamed.analyze(astronaut()).faces[0]
    original = recognizer.analyze(astronaut()).faces[0]
    assert list(face.probabilities) == names
    # Same model, same numbers: only the names differ, class by class.
    assert list(face.probabilities.values()) == list(original.probabilities.values())
    assert face.emotion == names[list(CLASS_NAMES).index(original.emotion)]
    assert renamed.analyze(astronaut()).to_dict()["faces"][0]["emotion"] == face.emotion
    # An export without labels.txt (made by hand) has the FER2013 classes.
    assert EmotionRecognizer(_int8_only_export(exported, tmp_path / "bare", None)).class_names == CLASS_NAMES


def test_labels_that_do_not_fit_the_model_are_a_clear_error(exported, tmp_path):
    six = EmotionRecognizer(_int8_only_export(exported, tmp_path / "six", list(CLASS_NAMES[:6])))
    with pytest.raises(ValueError, match="gives 7 probabilities but .*labels.txt names 6 classes; re-export"):
        six.analyze(astronaut())
    with pytest.raises(ValueError, match="gives 7 probabilities but .*labels.txt names 6 classes"):
        six.classify_faces(np.zeros((1, 48, 48, 1), np.uint8))
    with pytest.raises(ValueError, match="one distinct class name per line"):
        EmotionRecognizer(_int8_only_export(exported, tmp_path / "twice", ["Happy", *CLASS_NAMES[1:6], "Happy"]))
    with pytest.raises(ValueError, match="one distinct class name per line"):
        EmotionRecognizer(_int8_only_export(exported, tmp_path / "empty", []))


def test_every_detector_by_name_and_by_object(recognizer):
    for name in DETECTORS:
        analysis = recognizer.analyze(astronaut(), detector=name)
        assert analysis.detector == name and len(analysis.faces) == 1, name
    assert recognizer.face_detector("haar") is recognizer.face_detector("haar")  # created once
    mine = make_detector("haar-photo")
    assert recognizer.analyze(two_astronauts(), detector=mine).detector == "haar-photo"
    with pytest.raises(ValueError, match="Unknown face detector 'mtcnn'"):
        recognizer.analyze(astronaut(), detector="mtcnn")
    with pytest.raises(ValueError, match="Unknown face detector"):
        EmotionRecognizer(recognizer.artifacts_dir, detector="mtcnn")


def test_alignment_turns_a_tilted_face_upright_before_classifying(exported, monkeypatch):
    crops = []
    real = EmotionRecognizer.classify_faces

    def keep_crop(self, faces, backend=None):
        crops.append(faces[0, ..., 0].astype(np.float32).ravel())
        return real(self, faces, backend)

    monkeypatch.setattr(EmotionRecognizer, "classify_faces", keep_crop)
    aligned = EmotionRecognizer(exported.out_dir, align=True)
    upright = EmotionRecognizer(exported.out_dir, align=False)
    aligned.analyze(astronaut())
    aligned.analyze(rotated_astronaut(15))
    upright.analyze(rotated_astronaut(15))
    reference, turned_back, left_tilted = crops
    similarity_aligned = np.corrcoef(turned_back, reference)[0, 1]
    similarity_tilted = np.corrcoef(left_tilted, reference)[0, 1]
    # The aligned crop of the tilted face looks like the crop of the upright face; the plain crop less so.
    assert similarity_aligned > 0.9
    assert similarity_aligned > similarity_tilted + 0.05


def test_an_8_class_export_gives_every_fer_plus_class_with_every_backend(eight_class):
    recognizer = EmotionRecognizer(eight_class.export.out_dir)
    assert recognizer.class_names == FERPLUS_CLASS_NAMES  # from the export's labels.txt
    for name in BACKENDS:
        images = [astronaut(), np.full((240, 320, 3), 200, np.uint8)]
        analyses = recognizer.stream(tracking=False).analyze_many(images, backend=name)
        face = analyses[0].faces[0]
        assert list(face.probabilities) == list(FERPLUS_CLASS_NAMES), name
        assert face.emotion in FERPLUS_CLASS_NAMES and face.confidence == max(face.probabilities.values())
        assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=0.02)
        assert analyses[1].faces == [] and analyses[1].message == NO_FACE_MESSAGE
        assert draw_faces(analyses[0].image, analyses[0].faces).shape == (512, 512, 3)


def test_a_face_the_8_class_model_calls_contempt_is_drawn_in_contempts_colour(eight_class):
    recognizer = EmotionRecognizer(eight_class.export.out_dir)
    faces, labels = eight_class_faces(16, seed=5)
    contempt = faces[labels == 7][:1]  # the brightest generated faces: class 7, Contempt
    probs = recognizer.classify_faces(contempt)
    assert probs.shape == (1, 8)
    [face] = face_results([(40, 40, 100, 100)], probs, recognizer.class_names)
    assert face.emotion == "Contempt"
    annotated = draw_faces(np.zeros((240, 240, 3), np.uint8), [face])
    assert tuple(annotated[90, 40]) == EMOTION_COLOURS["Contempt"]  # the box's left edge


def test_a_stream_tracks_faces_with_ids_or_without_tracking_analyses_as_analyze_does(recognizer):
    frames = [frame_640x480(np.roll(astronaut(), 4 * i, axis=1)) for i in range(12)]  # the face moving right
    untracked = recognizer.stream(tracking=False).analyze_many(frames)
    assert [a.to_dict() | {"detect_ms": 0, "classify_ms": 0, "total_ms": 0} for a in untracked] == [
        recognizer.analyze(f).to_dict() | {"detect_ms": 0, "classify_ms": 0, "total_ms": 0} for f in frames
    ]
    assert "track_id" not in untracked[0].to_dict()["faces"][0] and untracked[0].faces[0].track_id is None
    stream = recognizer.stream(full_every=5)
    tracked = [stream.analyze(f) for f in frames]
    assert [[face.track_id for face in a.faces] for a in tracked] == [[1]] * 12
    assert tracked[3].to_dict()["faces"][0]["track_id"] == 1 and tracked[3].detector == DEFAULT_DETECTOR
    assert stream.tracker.full_detections == 3 and stream.tracking and stream.detector_name == DEFAULT_DETECTOR
    with pytest.raises(ValueError, match="Unknown backend 'onnx'"):
        stream.analyze(frames[0], backend="onnx")
    assert stream.tracker.frame == 12  # the refused frame did not move the tracks on
    assert stream.analyze(frames[-1], backend="tflite-fp32").faces[0].track_id == 1
