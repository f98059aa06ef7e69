"""The console scripts of ``export``: thin ``main(argv)`` functions that parse arguments before any heavy import."""
