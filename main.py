"""Run the mediaapp GUI from a source checkout: ``python main.py [--library DIR]``."""

from mediaapp.ui.app import main

# The import workers are spawned processes that re-import this module: the guard
# keeps them from starting a second GUI.
if __name__ == "__main__":
    raise SystemExit(main())
