"""The command-line interface: the library services, run headless."""
