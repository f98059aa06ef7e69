"""SavedModel export with BatchNorm in inference mode.

Keras 3's ``model.export`` can write a serving function that runs
BatchNormalization in training mode (after a Resizing layer, with Keras 3.15),
so the endpoints here call ``model(x, training=False)`` explicitly through
``keras.export.ExportArchive``. The parity gate checks the result either way.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from model_zoo.artifacts import FACES_SIGNATURE, OUTPUT_KEY, SERVING_SIGNATURE
from model_zoo.constants import FACE_SHAPE


def export_saved_model(model: keras.Model, out_dir: str | Path) -> Path:
    """Write ``model`` as a SavedModel with the signatures ``serving_default`` and ``faces_48x48``.

    Args:
        model: A zoo model (uint8 images in, class probabilities out).
        out_dir: The SavedModel directory to write.

    Returns:
        ``out_dir`` as a Path.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        SERVING_SIGNATURE,
        lambda images: {OUTPUT_KEY: model(images, training=False)},
        input_signature=[tf.TensorSpec((None, None, None, None), tf.uint8, name="images")],
    )
    archive.add_endpoint(
        FACES_SIGNATURE,
        lambda faces: {OUTPUT_KEY: model(faces, training=False)},
        input_signature=[tf.TensorSpec((None, *FACE_SHAPE), tf.uint8, name="faces")],
    )
    archive.write_out(str(out_dir), verbose=False)
    return Path(out_dir)
