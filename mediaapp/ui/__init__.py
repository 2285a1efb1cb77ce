"""The PySide6 desktop GUI.

The UI is a thin layer over ``mediaapp.library.Library``: every library call
runs on a worker thread through ``mediaapp.ui.background.BackgroundRunner``
and its result comes back to the GUI thread through a queued signal.
Entry point: ``mediaapp.ui.app:main``.
"""
