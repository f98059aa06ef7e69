"""SavedModel and TFLite export behind the parity gate (``fer-export``), and the benchmark (``fer-bench``)."""
