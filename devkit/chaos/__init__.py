"""Fault scenarios on the local emulators with real workers: `python -m devkit chaos`."""
