"""Keras Tuner's search algorithms (random, Hyperband, Bayesian) with a time budget and a clean stop."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import keras_tuner as kt

from pipeline.tuning.reports import error_summary, read_error_file
from pipeline.tuning.search_config import OBJECTIVE

log = logging.getLogger("fer-tune")

_STATUS = kt.engine.trial.TrialStatus


class _SearchLimits:
    """Adds to a Keras Tuner oracle what ``fer-tune`` needs, the same way on a chief as locally.

    * A time budget: once ``time_budget`` seconds have passed since this session's first
      trial started, no new trial starts (running ones finish).
    * A clean stop after ``max_consecutive_failures`` failed trials in a row. Keras Tuner
      raises from ``end_trial`` instead, which on a chief kills the request of one worker
      and leaves the server waiting forever for the trial it never ends.
    * Which tuner ran each trial and for how long (kept in ``oracle.json``).
    * A failed trial always has a message: Keras Tuner fails a trial whose objective is
      NaN without one, and its gRPC messages drop a worker's error message.

    Args:
        time_budget: Seconds after the first trial started; None: no limit.
        max_consecutive_failures: Failed trials in a row that stop the search.
        log_failures: Log every failed trial here (the chief, where the search is watched).
        project_dir: Where the trials' ``error.txt`` files are (a failed trial's message).
        *args, **kwargs: Passed to the Keras Tuner oracle.
    """

    def __init__(
        self,
        *args,
        time_budget: float | None = None,
        max_consecutive_failures: int = 3,
        log_failures: bool = False,
        project_dir: Path | None = None,
        **kwargs,
    ):
        # Never let Keras Tuner raise on consecutive failures; end_trial stops the search instead.
        super().__init__(*args, max_consecutive_failed_trials=sys.maxsize, **kwargs)
        self.time_budget = time_budget
        self.max_consecutive_failures = max_consecutive_failures
        self.log_failures = log_failures
        self.fer_project_dir = project_dir
        self.trial_runs: dict[str, dict[str, Any]] = {}
        self.stop_reason: str | None = None
        self.stop_issued = False
        self._failure_stop: str | None = None
        self._first_trial_started: float | None = None
        self._started: dict[str, float] = {}

    def _reason_to_stop(self) -> str | None:
        if self._failure_stop:
            return self._failure_stop
        if self.time_budget is not None and self._first_trial_started is not None:
            elapsed = time.monotonic() - self._first_trial_started
            if elapsed >= self.time_budget:
                return f"time budget of {self.time_budget:g} s used ({elapsed:.0f} s since the first trial started)"
        return None

    @kt.synchronized
    def create_trial(self, tuner_id):
        if tuner_id not in self.ongoing_trials:
            reason = self._reason_to_stop()
            if reason:
                self.stop_reason = reason
                self.stop_issued = True
                # What Keras Tuner does when it tells a tuner to stop: the chief exits
                # once every tuner it knows has been told so.
                self.tuner_ids.discard(tuner_id)
                return kt.engine.trial.Trial(self.get_space(), status=_STATUS.STOPPED)
        trial = super().create_trial(tuner_id)
        if trial.status == _STATUS.STOPPED:
            self.stop_issued = True
            if self.stop_reason is None:
                full = self.max_trials and len(self.trials) >= self.max_trials
                self.stop_reason = (
                    f"max_trials ({self.max_trials}) reached"
                    if full
                    else "the tuner has no new configuration to try (space exhausted or Hyperband schedule complete)"
                )
        elif trial.status == _STATUS.RUNNING and trial.trial_id not in self._started:
            # (A tuner asking again while its trial runs gets that trial back: not a new start.)
            now = time.monotonic()
            if self._first_trial_started is None:
                self._first_trial_started = now
            self._started[trial.trial_id] = now
            self.trial_runs[trial.trial_id] = {"tuner": tuner_id}
        return trial

    @kt.synchronized
    def end_trial(self, trial):
        reported = trial.status  # before super(), which may turn a NaN score into FAILED
        super().end_trial(trial)
        stored = self.trials[trial.trial_id]
        run = self.trial_runs.setdefault(trial.trial_id, {})
        if trial.trial_id in self._started:
            run["seconds"] = round(time.monotonic() - self._started.pop(trial.trial_id), 1)
        if stored.status == _STATUS.FAILED:
            if not stored.message:
                if reported == _STATUS.COMPLETED:
                    stored.message = f"The trial ended without a valid {OBJECTIVE} (NaN): training diverged."
                else:
                    stored.message = read_error_file(self.fer_project_dir, stored.trial_id) or (
                        f"The trial failed on {run.get('tuner', 'a worker')}; its error is in that worker's log."
                    )
                self._save_trial(stored)
            # The tuner that ran the trial logs its error; the chief logs it too, where the search is watched.
            if self.log_failures or reported == _STATUS.COMPLETED:
                log.error(
                    "Trial %s (%s) failed: %s", stored.trial_id, run.get("tuner", "?"), error_summary(stored.message)
                )
        failures = 0
        for trial_id in reversed(self.end_order):
            if self.trials[trial_id].status != _STATUS.FAILED:
                break
            failures += 1
        if failures >= self.max_consecutive_failures and not self._failure_stop:
            self._failure_stop = (
                f"{failures} trials in a row failed (--max-consecutive-failures {self.max_consecutive_failures}); "
                f"last error: {error_summary(stored.message)}"
            )
            log.error("Stopping the search: %s", self._failure_stop)
        self.save()

    def get_state(self):
        state = super().get_state()
        state["fer_trial_runs"] = self.trial_runs
        return state

    def set_state(self, state):
        super().set_state(state)
        self.trial_runs = dict(state.get("fer_trial_runs", {}))


class RandomSearchOracle(_SearchLimits, kt.oracles.RandomSearchOracle):
    """Keras Tuner's random search with ``fer-tune``'s time budget and clean stop."""


class HyperbandOracle(_SearchLimits, kt.oracles.HyperbandOracle):
    """Keras Tuner's Hyperband with ``fer-tune``'s time budget and clean stop."""


class BayesianOptimizationOracle(_SearchLimits, kt.oracles.BayesianOptimizationOracle):
    """Keras Tuner's Bayesian optimisation with ``fer-tune``'s time budget and clean stop."""
