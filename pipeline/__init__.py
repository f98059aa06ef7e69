"""FER2013 data, input pipelines, training, tuning and evaluation."""

import os

# TensorFlow reads this when it is first imported; without it every command
# starts with a screen of oneDNN and CPU-feature notices.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
