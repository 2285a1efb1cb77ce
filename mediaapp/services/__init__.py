"""Feature services: the import pipeline, People, cloud upload, results exchange, cost estimates.

Each service is built by the composition root (``mediaapp.library``) from the
parts it needs (catalog, indexes, worker pool, settings) and never imports
the root. See ARCHITECTURE.md.
"""
