"""Running exported models: one predictor interface over Keras, SavedModel and TFLite, and the TFLite loader.

Training, evaluation, export and serving all run models through here. Only the Keras and
SavedModel predictors import TensorFlow, and only when they are created.
"""
