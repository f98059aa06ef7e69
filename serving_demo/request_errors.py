"""Answers for requests that name a function the demo does not have: 404, not a server error.

Gradio looks an API call's function up by name or by index; an unknown name raises its ``FnIndexInferError`` and an
unknown index a ``KeyError``, which reach the client as 500 with a traceback in the server's log. Both are the
client's mistake. ``launch_demo`` passes these handlers to Gradio's FastAPI app.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

# The routes whose KeyError is a function looked up by the client's index; elsewhere a KeyError is the server's bug.
_FUNCTION_ROUTES = ("/queue/join", "/call/", "/run/", "/api/")


def _unknown_function(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"error": "No such function in this demo: check the API name or fn_index."}, status_code=404)


def _key_error(request: Request, error: KeyError) -> JSONResponse:
    if any(route in request.url.path for route in _FUNCTION_ROUTES):
        return _unknown_function(request, error)
    return JSONResponse({"error": "Internal server error"}, status_code=500)


def client_error_handlers() -> dict:
    """FastAPI ``exception_handlers`` for Gradio's app: unknown API names and function indices answer 404."""
    from gradio.route_utils import FnIndexInferError

    return {FnIndexInferError: _unknown_function, KeyError: _key_error}
