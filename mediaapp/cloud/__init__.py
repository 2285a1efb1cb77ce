"""AWS plumbing under every cloud feature: settings, clients, transfers, prices, the usage ledger and budgets.

A layer below the engines and the feature services (ARCHITECTURE.md); nothing
here imports Qt or any other mediaapp layer above ``settings``. Modules:

- ``config``: ``CloudConfig``, the JSON-able settings of the ``rekognition`` engine.
- ``clients``: boto3 clients (adaptive retries) and the factory tests replace.
- ``pricing``: the price table, the usage ledger and ``Budget`` (estimates: ``mediaapp.services.costs``).
- ``transfers``: watching the engine's uploads from the CLI and the GUI (bytes, files, cancel).

The features built on them are in ``mediaapp.services``: ``connection`` (the
"test connection" action), ``results`` (export and import of stored
responses), ``upload`` (``mediaapp cloud upload``) and ``estimate``.
"""
