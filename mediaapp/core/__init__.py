"""Pure domain layer: types, the query language and Rekognition-response helpers.

Nothing in this package imports Qt, touches the file system or the network;
an import-linter contract in ``pyproject.toml`` enforces it.
"""
