"""The catalog: SQLite tables of assets, files, analyses, detections and errors, with migrations."""
