"""``GET /healthz``: what a process manager or a load balancer polls to know the demo is up and its model loaded.

The route sits on Gradio's FastAPI app beside Gradio's own routes but outside its login: a probe has no
credentials. It answers 200 and a small JSON document naming the model and the backend serving it (loaded when the
route is made, before the server starts), and tells nothing a visitor of the page could not see: no paths,
versions or users.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from serving_demo.recognizer import EmotionRecognizer

#: Where the health check is served.
HEALTH_PATH = "/healthz"


def model_name(recognizer: EmotionRecognizer) -> str | None:
    """The model's architecture name from the export's ``metadata.json`` (e.g. ``seed_cnn``), or None."""
    try:
        metadata = json.loads((recognizer.artifacts_dir / "metadata.json").read_text())
        name = metadata["source_model"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return name if isinstance(name, str) else None


def health_status(recognizer: EmotionRecognizer) -> dict:
    """The health check's body: the model and the backend that serves it, loaded now if it was not yet.

    Args:
        recognizer: The demo's recognizer.

    Returns:
        ``{"status": "ok", "model", "backend", "detector", "classes"}``: the model's architecture name (or None),
        the current backend (its model loaded), the current face detector and the number of emotions.

    Raises:
        FileNotFoundError, ValueError: as ``EmotionRecognizer.predictor`` when the backend's model cannot be loaded.
    """
    recognizer.predictor()  # loaded models stay cached for the life of the recognizer
    return {
        "status": "ok",
        "model": model_name(recognizer),
        "backend": recognizer.backend,
        "detector": recognizer.detector_name,
        "classes": len(recognizer.class_names),
    }


def health_route(recognizer: EmotionRecognizer, path: str = HEALTH_PATH) -> Route:
    """A Starlette route answering ``GET`` and ``HEAD`` at ``path`` with 200 and ``health_status(recognizer)``.

    The model is loaded here, once: a recognizer keeps its loaded models, so the answer cannot go stale, and a probe
    never waits behind a request or the loading of another backend. The route answers as long as the server's event
    loop does, which is what a probe can tell. Pass it to ``Blocks.launch(app_kwargs={"routes": [...]})``: routes
    given to the FastAPI app when it is created come before Gradio's and carry no login dependency.

    Raises:
        FileNotFoundError, ValueError: as ``health_status``.
    """
    body = health_status(recognizer)

    async def healthz(request: Request) -> JSONResponse:  # noqa: ARG001 - Starlette passes the request
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return Route(path, healthz, methods=["GET", "HEAD"])
