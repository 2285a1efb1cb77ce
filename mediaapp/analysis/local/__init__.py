"""On-device analysers (OCR, faces, objects) composed into the ``local`` engine."""
