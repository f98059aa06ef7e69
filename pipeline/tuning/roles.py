"""This process's part in a distributed search, from Keras Tuner's environment variables.

Keras Tuner's chief/worker mode: the chief (``KERASTUNER_TUNER_ID`` containing "chief")
holds the oracle and serves it on ``KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT``; each
worker (``tuner0``, ``tuner1``, ...) asks it for trials and runs them. Without
``KERASTUNER_ORACLE_IP`` the search is local. No TensorFlow here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

ENV_TUNER_ID = "KERASTUNER_TUNER_ID"
ENV_ORACLE_IP = "KERASTUNER_ORACLE_IP"
ENV_ORACLE_PORT = "KERASTUNER_ORACLE_PORT"


def tuning_role(environ: Mapping[str, str] | None = None) -> str:
    """This process's part in a search, from Keras Tuner's environment variables.

    Args:
        environ: The environment to read (default: ``os.environ``).

    Returns:
        ``"local"`` without ``KERASTUNER_ORACLE_IP``; else ``"chief"`` when
        ``KERASTUNER_TUNER_ID`` contains "chief" and ``"worker"`` otherwise.

    Raises:
        ValueError: if the distributed settings are incomplete, the port is not a port
            number, or the tuner id is empty.
    """
    env = os.environ if environ is None else environ
    if ENV_ORACLE_IP not in env:
        return "local"
    missing = [name for name in (ENV_ORACLE_PORT, ENV_TUNER_ID) if not env.get(name)]
    if missing:
        raise ValueError(
            f"{ENV_ORACLE_IP} is set, so this is a distributed search, but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not: set {ENV_TUNER_ID}=chief on the chief and "
            f"{ENV_TUNER_ID}=tuner0, tuner1, ... on the workers, and the same {ENV_ORACLE_PORT} everywhere."
        )
    port = env[ENV_ORACLE_PORT]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{ENV_ORACLE_PORT} must be a port number (1-65535), got {port!r}")
    return "chief" if "chief" in env[ENV_TUNER_ID] else "worker"


def oracle_address(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The chief's ``(ip, port)`` from the environment of a distributed search.

    Raises:
        KeyError: if this is not a distributed search (check ``tuning_role`` first).
    """
    env = os.environ if environ is None else environ
    return env[ENV_ORACLE_IP], env[ENV_ORACLE_PORT]
