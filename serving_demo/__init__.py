"""Face detection, the emotion recognizer and the Gradio demo."""
