"""The demo's HTTP API, driven by gradio_client as any program would."""

import os

import pytest

from serving_demo import EXAMPLES_DIR
from tests.images import write_bad_inputs

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

EXAMPLES = str(EXAMPLES_DIR)


@pytest.fixture(scope="module")
def client(demo_url):
    return Client(demo_url, verbose=False)


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    return write_bad_inputs(tmp_path_factory.mktemp("bad_http"))


def test_analyze_endpoint_returns_annotated_image_and_every_face(client):
    annotated, label, faces, readout = client.predict(
        handle_file(os.path.join(EXAMPLES, "two_astronauts.jpg")), "tflite-int8", api_name="/analyze"
    )
    assert os.path.isfile(annotated)
    assert len(faces["faces"]) == 2 and faces["backend"] == "tflite-int8"
    assert label["label"] == faces["faces"][0]["emotion"]
    assert "tflite-int8" in readout and "2 faces" in readout


def test_the_detector_is_an_optional_third_input(client):
    photo = handle_file(os.path.join(EXAMPLES, "two_astronauts.jpg"))
    default = client.predict(photo, "tflite-int8", api_name="/analyze")[2]
    assert default["detector"] == "blazeface" and len(default["faces"]) == 2
    for name in ("haar", "haar-photo", "blazeface-full"):
        _, label, faces, readout = client.predict(photo, "tflite-int8", name, api_name="/analyze")
        assert faces["detector"] == name and name in readout and len(faces["faces"]) == 2
    with pytest.raises(AppError, match="mtcnn"):
        client.predict(photo, "tflite-int8", "mtcnn", api_name="/analyze")


def test_switching_backend_over_http(client):
    photo = handle_file(os.path.join(EXAMPLES, "astronaut.jpg"))
    readouts = {b: client.predict(photo, b, api_name="/analyze")[3] for b in ("keras", "saved_model", "tflite-fp32")}
    for backend, readout in readouts.items():
        assert f"**{backend}**" in readout


@pytest.mark.parametrize(
    "name,message",
    [
        ("not_an_image.png", "not an image that can be decoded"),
        ("empty.jpg", "empty"),
        ("truncated.jpg", "not an image that can be decoded"),
    ],
)
def test_bad_files_get_a_message_and_the_server_keeps_serving(client, bad_inputs, name, message):
    with pytest.raises(AppError, match=message):
        client.predict(handle_file(bad_inputs[name]), "tflite-int8", api_name="/analyze")
    _, _, faces, _ = client.predict(
        handle_file(os.path.join(EXAMPLES, "astronaut.jpg")), "tflite-int8", api_name="/analyze"
    )
    assert len(faces["faces"]) == 1


@pytest.mark.parametrize("name", ["gray.png", "rgba.png", "gray16.png", "exif_rotated.jpg", "huge_8000x8000.png"])
def test_awkward_images_are_converted_over_http(client, bad_inputs, name):
    _, _, faces, readout = client.predict(handle_file(bad_inputs[name]), "tflite-int8", api_name="/analyze")
    if name == "huge_8000x8000.png":
        assert faces["faces"] == [] and "No face found" in readout  # a flat gray image
    else:
        assert len(faces["faces"]) == 1, name


def test_upload_size_limit(client, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(os.urandom(6 * 1024 * 1024))  # over the 5 MB the test server allows
    with pytest.raises(Exception, match="(?i)size|large|413"):
        client.predict(handle_file(big), "tflite-int8", api_name="/analyze")
    _, _, faces, _ = client.predict(
        handle_file(os.path.join(EXAMPLES, "astronaut.jpg")), "tflite-int8", api_name="/analyze"
    )
    assert len(faces["faces"]) == 1


def test_unknown_backend_is_refused(client):
    with pytest.raises(Exception, match="(?i)backend|choice|value"):
        client.predict(handle_file(os.path.join(EXAMPLES, "astronaut.jpg")), "onnx", api_name="/analyze")
