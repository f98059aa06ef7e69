"""The Gradio app of ``fer-demo``: upload a photo or stream a webcam; every face gets a box and an emotion.

``build_demo`` makes the page from an ``EmotionRecognizer``; ``launch_demo`` serves it as ``fer-demo`` does
(the command line is ``serving_demo.cli``).

Privacy: webcam frames stay in memory (the annotated frame goes back inline, never through a file); uploads
are capped in size, and uploads and results leave Gradio's cache after ``cache_expiry`` seconds. A full
queue answers "busy, try again" at once; GET /healthz answers a process manager without login.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from html import escape

# Before Gradio is imported anywhere: no analytics, no version check, no hub calls.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from fer_runtime.atomic_files import write_bytes_atomic  # noqa: E402
from serving_demo import EXAMPLES_DIR  # noqa: E402
from serving_demo.auth import Logins  # noqa: E402
from serving_demo.backend_comparison import TABLE_HEADERS, compare_backends, comparison_chart  # noqa: E402
from serving_demo.cache_expiry import ANNOTATED_NAME, CacheExpiry, cache_expiry_lifespan  # noqa: E402
from serving_demo.detectors import DEFAULT_DETECTOR, DETECTORS  # noqa: E402
from serving_demo.drawing import draw_faces  # noqa: E402
from serving_demo.exposure import NO_AUTH_BANNER, is_loopback  # noqa: E402
from serving_demo.face_smoothing import FaceSmoother  # noqa: E402
from serving_demo.health import health_route  # noqa: E402
from serving_demo.image_io import ImageInputError  # noqa: E402
from serving_demo.recognizer import EmotionRecognizer  # noqa: E402
from serving_demo.request_errors import client_error_handlers  # noqa: E402
from serving_demo.results import Analysis  # noqa: E402

MAX_FILE_SIZE = "20mb"
# The browser sends a webcam frame at most every STREAM_EVERY seconds: 0.1 capped the stream at 10 fps;
# 0.03 lets a 30 fps camera through (the pipeline takes a few ms a frame).
STREAM_EVERY = 0.03
# Requests waiting at most (beyond those running); one more is answered "Queue is full" at once instead of waiting.
QUEUE_SIZE = 32
# Cached uploads and annotated results are deleted this many seconds after they were written.
CACHE_EXPIRY_S = 600
DEFAULT_CACHE_EXPIRY = CacheExpiry(CACHE_EXPIRY_S)
AUTH_MESSAGE = "Log in with a user of the demo's auth file."
BANNER_STYLE = (
    "background:#fef3c7;color:#78350f;border:2px solid #d97706;border-radius:8px;padding:10px 14px;font-weight:600"
)


def about(class_names: tuple[str, ...]) -> str:
    """The page's heading text, naming the classes of the model it serves (7 FER2013 emotions, or 8 with FER+)."""
    return f"""\
# Facial emotion recognition
Every frontal face in the picture gets a box and one of {len(class_names)} emotions ({", ".join(class_names)}),
from a small CNN trained on FER2013's faces. The **face detector** is MediaPipe's BlazeFace on LiteRT (or OpenCV's
Haar cascade, the classic); the **backend** runs the same model as a full SavedModel/Keras graph or as
TFLite (float32, float16, dynamic-range or full int8): switch either to compare accuracy and latency. Nothing is
stored and nothing leaves this machine. Not for decisions about people: FER2013 is small, skewed
and posed, and facial expression is not emotion.
"""


def describe(analysis: Analysis) -> str:
    """The latency readout under a result."""
    faces = len(analysis.faces)
    found = f"{faces} face{'s' if faces != 1 else ''}" if faces else "no face found"
    return (
        f"**{analysis.backend}** · {analysis.detector} · {found} · detect {analysis.detect_ms:.1f} ms · "
        f"classify {analysis.classify_ms:.2f} ms · total {analysis.total_ms:.1f} ms"
    )


def largest_face_label(analysis: Analysis) -> dict[str, float] | None:
    return analysis.faces[0].probabilities if analysis.faces else None


def save_annotated_jpeg(image: np.ndarray, cache_dir: str, salt: str) -> str:
    """Writes the annotated RGB ``image`` as a JPEG into Gradio's cache, atomically, and returns its path.

    Returned as an array, Gradio would write it to ``<cache>/<content hash>/image.jpeg`` in place
    (``Path.write_bytes`` truncates first), so identical results of concurrent requests rewrite the
    very file that other requests are still downloading, which then end short or empty. Here the
    file is written under a temporary name and renamed into place: a download reads the old copy or
    the new one, whole. One file per distinct result, as before, under a salted hash of its content.

    Args:
        image: The annotated image, RGB uint8.
        cache_dir: Gradio's cache directory (files there are served and aged out by ``delete_cache``).
        salt: A secret of this app, so that a path cannot be guessed from an image.

    Returns:
        The path of the JPEG (quality 75, as Gradio's own encoding).

    Raises:
        ValueError: if the image cannot be encoded.
        OSError: if the cache cannot be written.
    """
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 75])
    if not ok:
        raise ValueError("the annotated image could not be encoded as JPEG")
    data = encoded.tobytes()
    directory = os.path.join(cache_dir, hashlib.sha256(salt.encode() + data).hexdigest())
    path = os.path.join(directory, ANNOTATED_NAME)
    for attempt in range(2):
        os.makedirs(directory, exist_ok=True)
        try:
            write_bytes_atomic(path, data)
            break
        except FileNotFoundError:  # the cache sweeper removed the (old, empty) folder just now: make it again
            if attempt:
                raise
    return path


def build_demo(
    recognizer: EmotionRecognizer,
    *,
    queue_size: int = QUEUE_SIZE,
    cache_expiry: CacheExpiry = DEFAULT_CACHE_EXPIRY,
    no_auth_banner: bool = False,
):
    """The Gradio Blocks app around ``recognizer``; its upload handler is the API endpoint ``analyze``.

    Args:
        recognizer: The recognizer every request goes through.
        queue_size: Requests that may wait (beyond those running); one more is refused at once: gradio_client
            raises ``QueueError("Queue is full! Please try again.")``, the page says "This application is currently
            busy. Please try again.", a raw ``/gradio_api/queue/join`` gets HTTP 503.
        cache_expiry: How long uploads and results stay in Gradio's cache (``delete_cache``); the copies of the
            example photos stay.
        no_auth_banner: Show ``NO_AUTH_BANNER`` at the top of the page (the demo is served with ``--no-auth``).

    Returns:
        The ``gr.Blocks``, queue configured; ``launch_demo`` serves it as ``fer-demo`` does.

    Raises:
        ValueError: if ``queue_size`` is below 1.
    """
    import gradio as gr

    if queue_size < 1:
        raise ValueError(f"the queue size must be at least 1, not {queue_size}")

    # The annotated photo goes out as a file written by save_annotated_jpeg, not as an array for Gradio to write.
    cache_dir, salt = gr.utils.get_upload_folder(), secrets.token_hex(16)

    def analyze_upload(path: str | None, backend: str, detector: str | None = None):
        if not path:
            raise gr.Error("Choose a photo first (JPEG, PNG, WebP or BMP).")
        try:
            analysis = recognizer.analyze(path, backend=backend, detector=detector or None)
        except (ImageInputError, ValueError) as e:
            raise gr.Error(str(e)) from None
        annotated = draw_faces(analysis.image, analysis.faces)
        readout = describe(analysis) + (f"\n\n{analysis.message}" if analysis.message else "")
        annotated = save_annotated_jpeg(annotated, cache_dir, salt)
        return annotated, largest_face_label(analysis), analysis.to_dict(), readout

    def refresh_on_change(path: str | None, backend: str, detector: str):
        if not path:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return analyze_upload(path, backend, detector)

    def compare_upload(path: str | None, detector: str | None = None):
        # Every backend on the photo's faces (serving_demo/backend_comparison.py): readout, table, chart, JSON.
        if not path:
            raise gr.Error("Choose a photo first (JPEG, PNG, WebP or BMP).")
        try:
            comparison = compare_backends(recognizer, path, detector=detector or None)
        except (ImageInputError, ValueError) as e:
            raise gr.Error(str(e)) from None
        return comparison.summary(), comparison.table(), comparison_chart(comparison), comparison.to_dict()

    def analyze_frame(
        frame: np.ndarray | None, backend: str, detector: str, smooth: bool, tracking: bool, last: dict | None
    ):
        if frame is None:
            return gr.skip(), gr.skip(), last
        # The browser sends the video element's current picture on every tick, whether or not the camera has given
        # a new one since: the same picture again is skipped, not analysed twice. Only a digest is kept, never the
        # frame.
        digest = hashlib.blake2b(np.ascontiguousarray(frame).data, digest_size=16).digest()
        if last is not None and last.get("digest") == digest:
            return gr.skip(), gr.skip(), last
        now = time.perf_counter()
        last = last or {"smoother": FaceSmoother()}  # one per browser session
        fps = last.get("fps", 0.0)
        if "t" in last:
            instant = 1.0 / max(now - last["t"], 1e-6)
            fps = instant if not fps else 0.8 * fps + 0.2 * instant  # smoothed for a steady readout
        try:
            stream = last.get("stream")
            if stream is None or stream.detector_name != detector or stream.tracking != tracking:
                # One stream (tracker) per browser session, begun afresh when the detector or the switch changes.
                stream = last["stream"] = recognizer.stream(tracking=tracking, detector=detector)
            analysis = stream.analyze(frame, backend=backend)
        except (ImageInputError, ValueError) as e:
            raise gr.Error(str(e)) from None
        faces = last["smoother"].update(analysis.faces) if smooth else analysis.faces
        if not smooth:
            last["smoother"].reset()
        annotated = draw_faces(analysis.image, faces)
        # The frame goes back inline as a data URL: a gr.Image output would write it to Gradio's file cache.
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
        html = (
            (
                f'<img id="webcam-annotated" alt="annotated webcam frame" style="max-width:100%" '
                f'src="data:image/jpeg;base64,{base64.b64encode(jpeg.tobytes()).decode()}">'
            )
            if ok
            else ""
        )
        return html, f"{fps:.1f} fps · " + describe(analysis), last | {"t": now, "fps": fps, "digest": digest}

    examples = [str(p) for p in sorted(EXAMPLES_DIR.glob("*.jpg"))]
    with gr.Blocks(
        title="Facial emotion recognition", analytics_enabled=False, delete_cache=cache_expiry.delete_cache
    ) as demo:
        if no_auth_banner:
            gr.HTML(
                f'<div role="alert" style="{BANNER_STYLE}">&#9888; {escape(NO_AUTH_BANNER)}</div>',
                elem_id="no-auth-banner",
            )
        gr.Markdown(about(recognizer.class_names))
        backend = gr.Radio(
            recognizer.available_backends(),
            value=recognizer.backend,
            label="Backend",
            info="Applies to both tabs.",
            elem_id="backend",
        )
        detector = gr.Radio(
            list(DETECTORS),
            value=recognizer.detector_name if recognizer.detector_name in DETECTORS else DEFAULT_DETECTOR,
            label="Face detector",
            info="Applies to both tabs. " + "; ".join(f"{name}: {text}" for name, text in DETECTORS.items()),
            elem_id="detector",
        )
        with gr.Tab("Upload", id="upload"):
            with gr.Row():
                with gr.Column():
                    photo = gr.File(label="Photo", file_types=["image"], type="filepath", elem_id="photo")
                    run = gr.Button("Analyze", variant="primary", elem_id="analyze")
                    compare = gr.Button("Compare backends", elem_id="compare-backends")
                    if examples:
                        gr.Examples(examples, inputs=photo, label="Examples")
                        # Gradio copies the examples into its cache but does not exempt the copies from
                        # delete_cache: without this the page's examples break once the cache expiry has passed.
                        photo.keep_in_cache.update(photo.temp_files)
                with gr.Column():
                    annotated = gr.Image(
                        label="Faces found", type="numpy", interactive=False, format="jpeg", elem_id="annotated"
                    )
                    readout = gr.Markdown(elem_id="upload-readout")
                    label = gr.Label(num_top_classes=len(recognizer.class_names), label="Largest face", elem_id="label")
                    faces = gr.JSON(label="Every face (box: x, y, width, height)")
            outputs = [annotated, label, faces, readout]
            run.click(analyze_upload, [photo, backend, detector], outputs, api_name="analyze", concurrency_limit=4)
            photo.upload(analyze_upload, [photo, backend, detector], outputs, api_visibility="private")
            for selector in (backend, detector):
                selector.change(refresh_on_change, [photo, backend, detector], outputs, api_visibility="private")
            comparison_readout = gr.Markdown(elem_id="comparison-readout")
            comparison_table = gr.Dataframe(
                headers=list(TABLE_HEADERS), label="Backends on this photo", interactive=False, elem_id="comparison"
            )
            comparison_plot = gr.Plot(label="Classifier latency and size", format="png", elem_id="comparison-chart")
            with gr.Accordion("Comparison as JSON", open=False):
                comparison_json = gr.JSON(elem_id="comparison-json")
            # One comparison at a time: it runs every backend, each call under that backend's lock.
            compare.click(
                compare_upload,
                [photo, detector],
                [comparison_readout, comparison_table, comparison_plot, comparison_json],
                api_name="compare_backends",
                concurrency_limit=1,
            )
        with gr.Tab("Webcam", id="webcam"):
            gr.Markdown("Start the camera; frames are analysed as they arrive and never stored.")
            smoothing = gr.Checkbox(
                value=True,
                label="Smooth labels across frames",
                info="Average each face's probabilities over the frames it appears in, so labels do not flicker.",
                elem_id="smoothing",
            )
            tracking = gr.Checkbox(
                value=True,
                label="Track faces",
                info="Each face keeps an id; between full detections only the area around it is searched (faster). "
                "Off: every frame is searched whole.",
                elem_id="tracking",
            )
            with gr.Row():
                camera = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="Camera", elem_id="camera")
                with gr.Column():
                    live = gr.HTML(elem_id="webcam-output")
                    stats = gr.Markdown(elem_id="webcam-stats")
            session = gr.State(None)
            camera.stream(
                analyze_frame,
                [camera, backend, detector, smoothing, tracking, session],
                [live, stats, session],
                stream_every=STREAM_EVERY,
                time_limit=900,
                concurrency_limit=4,
                api_visibility="private",
                show_progress="hidden",  # no fading between frames
            )
    return demo.queue(max_size=queue_size)


def launch_demo(
    demo,
    recognizer: EmotionRecognizer,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    share: bool = False,
    logins: Logins | None = None,
    max_file_size: str = MAX_FILE_SIZE,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
):
    """Serve ``demo`` (from ``build_demo(recognizer)``) as ``fer-demo`` does: login, health check, nothing extra.

    Beside Gradio's routes: ``GET /healthz`` (``serving_demo.health``, outside the login); unknown API names and
    function indices answer 404 (``serving_demo.request_errors``). The demo's cache expiry
    (its ``delete_cache``) is kept by ``serving_demo.cache_expiry`` instead of Gradio, whose task stops for good
    under steady traffic: ``demo.delete_cache`` is set to None. Off: server-side rendering, the
    monitoring dashboard, the MCP server, the PWA manifest, the run history and the footer links (API docs
    page, settings); Python errors other than the messages the demo raises are shown only on a loopback address.
    The exposure policy (``check_exposure``) is the caller's: this function serves what it is given.

    Args:
        demo: The Blocks from ``build_demo``.
        recognizer: Its recognizer (the health check names its model and backend).
        host: Address to bind.
        port: Port to bind (default: Gradio's, 7860 or the next free one).
        share: Open a Gradio share link.
        logins: Users of the login (``serving_demo.auth.read_logins``); None serves without one.
        max_file_size: Largest upload accepted.
        prevent_thread_lock: Return at once, the server running in the background (for tests and benchmarks).
        quiet: Print nothing.

    Returns:
        What ``gr.Blocks.launch`` returns: ``(app, local_url, share_url)``.

    Raises:
        FileNotFoundError, ValueError: if the recognizer's backend cannot be loaded (for the health check).
        OSError: if the port cannot be bound.
    """
    import gradio as gr

    app_kwargs: dict = {"routes": [health_route(recognizer)], "exception_handlers": client_error_handlers()}
    if demo.delete_cache:
        # Gradio's own delete_cache task stops for good under steady traffic (serving_demo/cache_expiry.py): ours
        # does its job, and more, on the same expiry.
        expiry = CacheExpiry(demo.delete_cache[1])
        demo.delete_cache = None
        app_kwargs["lifespan"] = cache_expiry_lifespan(demo, gr.utils.get_upload_folder(), expiry)
    return demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        auth=logins.users if logins else None,
        auth_message=AUTH_MESSAGE if logins else None,
        max_file_size=max_file_size,
        show_error=is_loopback(host) and not share,
        ssr_mode=False,
        enable_monitoring=False,
        mcp_server=False,
        pwa=False,
        run_history=False,
        footer_links=[],
        app_kwargs=app_kwargs,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
    )
