"""The chief of a distributed search: it serves the oracle to the workers and runs no trial."""

from __future__ import annotations

import logging
import threading
import time

import keras_tuner as kt

from pipeline.tuning.roles import ENV_ORACLE_IP, ENV_ORACLE_PORT, ENV_TUNER_ID, oracle_address

log = logging.getLogger("fer-tune")


def serve_oracle(tuner: kt.Tuner, verbose: int, poll_seconds: float = 0.5) -> None:
    """Serve the oracle to the workers until every worker has been told to stop.

    ``tuner.search()`` on the chief serves the oracle over gRPC, but once the first worker
    is told to stop it checks for the others only every 20 s. It runs here in a thread
    while this one checks the same condition every ``poll_seconds``.

    Args:
        tuner: The chief's tuner; its oracle is one of ``pipeline.tuning.oracles``' (``stop_issued``).
        verbose: Keras Tuner's verbosity.
        poll_seconds: How often to check whether every worker has been told to stop.

    Raises:
        RuntimeError: if the server fails (e.g. the port is taken).
    """
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            tuner.search(verbose=verbose)
        except BaseException as e:  # noqa: BLE001  (re-raised in the main thread)
            errors.append(e)

    ip, port = oracle_address()
    log.info(
        "Chief: serving the oracle on %s:%s; start workers with %s=%s %s=%s %s=tuner0 (tuner1, ...)",
        *(ip, port, ENV_ORACLE_IP, ip, ENV_ORACLE_PORT, port, ENV_TUNER_ID),
    )
    thread = threading.Thread(target=serve, name="oracle-chief", daemon=True)
    thread.start()
    oracle = tuner.oracle
    while True:
        thread.join(poll_seconds)
        if errors:
            raise RuntimeError(f"The chief's oracle server stopped: {errors[0]}") from errors[0]
        if not thread.is_alive():
            return
        if oracle.stop_issued and not oracle.ongoing_trials and not oracle.tuner_ids:
            # Let the last "stop" reply reach its worker before this process may exit.
            time.sleep(1.0)
            return
