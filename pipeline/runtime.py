"""Process-level TensorFlow settings that must be made before TensorFlow runs anything."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def configure_tensorflow(
    intra_op_threads: int | None = None, inter_op_threads: int | None = None, cpu_devices: int | None = None
) -> None:
    """Set TensorFlow's thread pools and, optionally, split the CPU into logical devices.

    Args:
        intra_op_threads: Threads one op may use (None: every core this process may use).
        inter_op_threads: Ops that may run at once (None: 2).
        cpu_devices: Split the CPU into this many logical devices, e.g. to run
            MirroredStrategy on a machine without GPUs.

    Raises:
        RuntimeError: if ``cpu_devices`` is asked for after TensorFlow has started. Thread
            settings that come too late only log a warning.
    """
    import tensorflow as tf

    # TensorFlow's own default sometimes leaves one of two cores idle; measured
    # on 2 cores (python -m export.cli.training_throughput), intra = all cores with
    # inter = 2 trains fastest, so that is the default here.
    intra_op_threads = intra_op_threads or len(os.sched_getaffinity(0))
    inter_op_threads = inter_op_threads or 2
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads)
    except RuntimeError:
        # TensorFlow already runs in this process (a notebook, a test): keep its pools.
        log.warning("TensorFlow has already started; thread settings stay as they are")
    if cpu_devices and cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(cpu_devices)]
            )
        except RuntimeError as e:
            raise RuntimeError(
                f"TensorFlow has already started, so the CPU cannot be split into {cpu_devices} devices now ({e}). "
                "Pass --cpu-devices in a fresh process."
            ) from e


def make_strategy(name: str):
    """A ``tf.distribute`` strategy: ``default``, or ``mirrored`` over every GPU (or every logical CPU if none).

    Raises:
        ValueError: on an unknown strategy name.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
        log.info("MirroredStrategy over %s", devices)
        return tf.distribute.MirroredStrategy(devices=devices)
    raise ValueError(f"Unknown strategy {name!r}; use default or mirrored")
