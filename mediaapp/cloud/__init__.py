"""Cloud analysis support: settings, AWS clients, cost and budget, connection test, results in and out.

Nothing here imports Qt; the GUI reaches it through ``mediaapp.ui.cloud_dialog``.
Modules:

- ``config``: ``CloudConfig``, the JSON-able settings of the ``rekognition`` engine.
- ``clients``: boto3 clients (adaptive retries) and the factory tests replace.
- ``cost``: the price table, ``estimate()``, the usage ledger and ``Budget``.
- ``connection``: ``check_connection()`` (the "test connection" action) with plain-words explanations.
- ``results``: export and import of stored Rekognition responses.
- ``upload``: ``mediaapp cloud upload`` (images to the bucket ahead of analysis).
- ``transfers``: watching the engine's uploads from the CLI and the GUI (bytes, files, cancel).
"""
