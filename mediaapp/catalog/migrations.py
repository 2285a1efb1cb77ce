"""Catalog schema migrations.

The schema version lives in SQLite's ``PRAGMA user_version``. Each entry of
``MIGRATIONS`` moves the schema from version ``i`` to ``i + 1`` and runs in
one transaction; never edit a released entry, append a new one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 0 -> 1: the foundation schema.
    """
    CREATE TABLE assets (
        sha256 TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        format TEXT,
        width INTEGER,          -- pixels, after EXIF orientation
        height INTEGER,
        taken_at TEXT,          -- EXIF DateTimeOriginal, ISO 8601
        camera_make TEXT,
        camera_model TEXT,
        gps_lat REAL,           -- decimal degrees
        gps_lon REAL,
        thumbnail TEXT,         -- path of the 320 px JPEG
        added_at TEXT NOT NULL
    );
    CREATE TABLE files (
        path TEXT PRIMARY KEY,  -- absolute path of a file holding the asset's bytes
        sha256 TEXT NOT NULL REFERENCES assets(sha256),
        folder TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        seen_at TEXT NOT NULL
    );
    CREATE INDEX files_sha256 ON files(sha256);
    CREATE INDEX files_folder ON files(folder);
    CREATE TABLE analyses (
        sha256 TEXT NOT NULL,
        api TEXT NOT NULL,            -- DetectLabels | DetectText | RecognizeCelebrities
        engine TEXT NOT NULL,         -- local | rekognition | imported
        engine_version TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '',
        response TEXT NOT NULL,       -- the raw Rekognition-shaped JSON
        created_at TEXT NOT NULL,
        PRIMARY KEY (sha256, api, engine, engine_version, params)
    );
    CREATE TABLE detections (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,
        api TEXT NOT NULL,
        engine TEXT NOT NULL,
        engine_version TEXT NOT NULL,
        kind TEXT NOT NULL,           -- label | text | face | person
        name TEXT NOT NULL,
        confidence REAL NOT NULL,     -- 0-100
        box_left REAL, box_top REAL, box_width REAL, box_height REAL,  -- ratios
        parents TEXT NOT NULL DEFAULT '[]',
        text_type TEXT                -- LINE | WORD for text
    );
    CREATE INDEX detections_sha256 ON detections(sha256, api, engine);
    CREATE TABLE errors (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        sha256 TEXT,
        stage TEXT NOT NULL,          -- scan | read | sniff | decode | thumbnail | analysis:<api>
        message TEXT NOT NULL,
        size INTEGER,                 -- the file's size and mtime when it failed, so an
        mtime_ns INTEGER,             -- unchanged broken file is not retried on re-import
        created_at TEXT NOT NULL
    );
    CREATE INDEX errors_path ON errors(path);
    """,
    # 1 -> 2: resumable indexing and remembered analysis failures.
    """
    CREATE TABLE index_pending (      -- assets whose search documents must be rebuilt (or deleted);
        sha256 TEXT PRIMARY KEY       -- written in the same transaction as the change itself
    );
    INSERT INTO index_pending (sha256) SELECT sha256 FROM assets;
    ALTER TABLE errors ADD COLUMN engine TEXT;   -- analysis engine of an analysis:<api> error
    ALTER TABLE errors ADD COLUMN code TEXT;     -- machine-readable reason (Rekognition error code, ...)
    CREATE INDEX errors_sha256 ON errors(sha256);
    """,
    # 2 -> 3: people - the faces found in photos (with embeddings) and the persons the user named.
    """
    CREATE TABLE persons (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,   -- unique ignoring case (Unicode case: checked by the app)
        created_at TEXT NOT NULL,
        source TEXT NOT NULL          -- examples (enrolled from example photos) | named (a group named in the app)
    );
    CREATE TABLE faces (
        id INTEGER PRIMARY KEY,       -- the local FaceId
        sha256 TEXT NOT NULL,         -- the image (ExternalImageId); not a foreign key: examples are not assets
        face_index INTEGER NOT NULL,  -- position in the detector's answer, largest face first
        origin TEXT NOT NULL,         -- photo (a library image) | example (an enrolment photo)
        box_left REAL NOT NULL, box_top REAL NOT NULL, box_width REAL NOT NULL, box_height REAL NOT NULL,  -- ratios
        confidence REAL NOT NULL,     -- detector Confidence, 0-100
        landmarks TEXT NOT NULL DEFAULT '[]',  -- Rekognition Landmarks JSON (ratios)
        pose TEXT NOT NULL DEFAULT '{}',       -- Rekognition Pose JSON (degrees)
        quality TEXT NOT NULL DEFAULT '{}',    -- Rekognition Quality JSON (0-100)
        embedding BLOB NOT NULL,      -- 128 little-endian float32
        model_version TEXT NOT NULL,  -- embedding model (faces.EMBEDDING_MODEL_VERSION)
        detector_version TEXT NOT NULL,
        crop TEXT,                    -- crop JPEG, relative to <library>/faces
        state TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'rejected')),
        person_id INTEGER REFERENCES persons(id) ON DELETE SET NULL,
        assigned_by TEXT CHECK (assigned_by IN ('user', 'example', 'auto')),  -- who named it; NULL: unknown
        similarity REAL,              -- 0-100: to the nearest named face (auto), 100 (user, example)
        group_id INTEGER,             -- cluster of an unknown face; NULL: not clustered yet
        group_locked INTEGER NOT NULL DEFAULT 0,  -- 1: the user put it in this group (merge, move out)
        created_at TEXT NOT NULL,
        UNIQUE (sha256, origin, face_index)
    );
    CREATE INDEX faces_person ON faces(person_id);
    CREATE INDEX faces_group ON faces(group_id);
    CREATE TABLE face_exclusions (    -- the user moved this face out of this person: never name it so again
        face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
        person_id INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
        PRIMARY KEY (face_id, person_id)
    ) WITHOUT ROWID;
    """,
    # 3 -> 4: ordered index marks (a mark made while a document was being built is not lost) and
    # which stored response each (sha256, api, engine) currently shows.
    """
    ALTER TABLE index_pending ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters (name, value) VALUES ('index_pending', 0);
    CREATE TABLE current_analyses (   -- the response whose detections are in ``detections``
        sha256 TEXT NOT NULL,
        api TEXT NOT NULL,
        engine TEXT NOT NULL,
        params TEXT NOT NULL,
        engine_version TEXT NOT NULL,
        PRIMARY KEY (sha256, api, engine)
    );
    INSERT INTO current_analyses (sha256, api, engine, params, engine_version)
        SELECT sha256, api, engine, params, engine_version FROM analyses AS a
        WHERE a.rowid = (SELECT b.rowid FROM analyses AS b
                         WHERE b.sha256 = a.sha256 AND b.api = a.api AND b.engine = a.engine
                         ORDER BY b.created_at DESC, b.rowid DESC LIMIT 1);
    """,
    # 4 -> 5: paths are stored in ``mediaapp.core.filenames.to_stored`` form, which doubles the escape
    # character U+FFFD (char(65533)); a name that already held one is rewritten so, and its asset is
    # queued for the search indexes (their documents carry stored paths too).
    """
    INSERT INTO index_pending (sha256, seq)
        SELECT DISTINCT sha256, (SELECT value + 1 FROM counters WHERE name = 'index_pending') FROM files
        WHERE instr(path, char(65533)) > 0
        ON CONFLICT (sha256) DO UPDATE SET seq = excluded.seq;
    UPDATE counters SET value = value + 1 WHERE name = 'index_pending';
    UPDATE files SET path = replace(path, char(65533), char(65533) || char(65533)),
                     folder = replace(folder, char(65533), char(65533) || char(65533)),
                     name = replace(name, char(65533), char(65533) || char(65533))
        WHERE instr(path, char(65533)) > 0;
    UPDATE errors SET path = replace(path, char(65533), char(65533) || char(65533))
        WHERE instr(path, char(65533)) > 0;
    """,
    # 5 -> 6: the search outbox becomes the catalog's change feed with named consumers
    # (``mediaapp.catalog.feed``); search sync is the first, and keeps the marks it had.
    """
    CREATE TABLE feed_consumers (name TEXT PRIMARY KEY) WITHOUT ROWID;
    INSERT INTO feed_consumers (name) VALUES ('search');
    CREATE TABLE change_feed (        -- assets changed since each consumer last handled them
        consumer TEXT NOT NULL REFERENCES feed_consumers(name) ON DELETE CASCADE,
        sha256 TEXT NOT NULL,
        seq INTEGER NOT NULL,         -- the change_feed counter when last marked
        PRIMARY KEY (consumer, sha256)
    ) WITHOUT ROWID;
    INSERT INTO change_feed (consumer, sha256, seq) SELECT 'search', sha256, seq FROM index_pending;
    DROP TABLE index_pending;
    UPDATE counters SET name = 'change_feed' WHERE name = 'index_pending';
    """,
    # 6 -> 7: claims on analysis work, so concurrent imports never analyse one image twice
    # (``mediaapp.catalog.claims``).
    """
    CREATE TABLE analysis_claims (
        sha256 TEXT NOT NULL,
        api TEXT NOT NULL,
        engine TEXT NOT NULL,
        owner TEXT NOT NULL,          -- the claiming import run's token
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started TEXT,                 -- the owner process's start (boot id and start time), if known
        claimed_at REAL NOT NULL,     -- Unix seconds, refreshed while the owner works
        PRIMARY KEY (sha256, api, engine)
    ) WITHOUT ROWID;
    CREATE INDEX analysis_claims_by_owner ON analysis_claims (owner);
    """,
    # 7 -> 8: what each image says about itself (XMP, its sidecars, IPTC-IIM), as the metadata engine last
    # read it (``mediaapp.analysis.metadata``). Kept when the asset goes, like its analyses, so the same bytes
    # imported again show it at once.
    """
    CREATE TABLE asset_metadata (
        sha256 TEXT PRIMARY KEY,
        title TEXT,                   -- dc:title (x-default), else IPTC Object Name
        description TEXT,             -- dc:description (x-default), else IPTC Caption/Abstract
        rating NUMERIC,               -- xmp:Rating: -1 rejected, 0 unrated, 1 to 5
        label TEXT,                   -- xmp:Label, a colour label's name
        date_created TEXT,            -- photoshop:DateCreated, else IPTC Date/Time Created: ISO 8601 as written
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 8 -> 9: XMP sidecars mediaapp wrote (``mediaapp.catalog.sidecar_records``): per sidecar, the entries it
    # owns there (a later write removes only those) and the sidecar's size and time after the write (so its
    # own writes are told from another program's); and the writer's last opt-in scope.
    """
    CREATE TABLE sidecar_files (
        path TEXT PRIMARY KEY,        -- the sidecar's absolute path
        sha256 TEXT NOT NULL,         -- the asset it was written for
        owned TEXT NOT NULL,          -- JSON {"subject", "hierarchical", "tags_list", "regions": [text, ...]}
        size INTEGER NOT NULL,        -- st_size after our write
        mtime_ns INTEGER NOT NULL,    -- st_mtime_ns after our write
        written_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX sidecar_files_sha256 ON sidecar_files (sha256);
    CREATE TABLE sidecar_state (
        key TEXT PRIMARY KEY,         -- "scope": the opt-in settings the last run wrote with
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 9 -> 10: video (``mediaapp.ingest.video``): what an asset is shown and analysed as, and a video's
    # duration, codec and frame rate (the grid's duration badge, the detail view, the VideoMetadata of answers)
    """
    ALTER TABLE assets ADD COLUMN media_kind TEXT NOT NULL DEFAULT 'image';  -- image | video
    ALTER TABLE assets ADD COLUMN duration_ms INTEGER;   -- a video's duration, milliseconds
    ALTER TABLE assets ADD COLUMN codec TEXT;            -- a video's codec, FFmpeg's name (h264, hevc)
    ALTER TABLE assets ADD COLUMN frame_rate REAL;       -- a video's frames per second
    """,
    # 10 -> 11: RAW+JPEG stacks (``mediaapp.catalog.stacks``): the camera's JPEG or HEIF beside a RAW of the
    # same stem is shown, analysed and searched as one stack whose original is the RAW.
    """
    CREATE TABLE stacks (
        member TEXT PRIMARY KEY,      -- sha256 of the JPEG/HEIF: shown and searched through its original
        original TEXT NOT NULL,       -- sha256 of the RAW: the stack's original, the one hit
        created_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX stacks_original ON stacks (original);
    """,
    # 11 -> 12: face collections: the faces mediaapp put in a Rekognition face collection
    # (``mediaapp.services.face_collection``): each FaceId with its image and, for enrolled faces, the person
    # (names stay in mediaapp; the collection holds vectors under ExternalImageId = sha256)
    """
    CREATE TABLE cloud_faces (
        collection_id TEXT NOT NULL,  -- the Rekognition CollectionId
        face_id TEXT NOT NULL,        -- Rekognition's FaceId
        sha256 TEXT NOT NULL,         -- the image (its ExternalImageId)
        box TEXT NOT NULL,            -- JSON BoundingBox (ratios)
        person TEXT,                  -- the name it was enrolled as; NULL for a face found in an import
        PRIMARY KEY (collection_id, face_id)
    ) WITHOUT ROWID;
    CREATE INDEX cloud_faces_person ON cloud_faces (collection_id, person);
    """,
    # 12 -> 13: similar photos (``mediaapp.catalog.similarity``): each asset's image embedding per model version
    # (the concept classifier's pooled features, L2-normalised) and its perceptual hashes and sharpness
    """
    CREATE TABLE asset_embeddings (
        sha256 TEXT NOT NULL,
        model_version TEXT NOT NULL,  -- the classifier's version (vectors of two versions never compare)
        dims INTEGER NOT NULL,        -- number of components (1280 for EfficientNet-Lite0)
        vector BLOB NOT NULL,         -- dims little-endian float16, L2-normalised
        stored_at TEXT NOT NULL,
        PRIMARY KEY (sha256, model_version)
    ) WITHOUT ROWID;
    CREATE INDEX asset_embeddings_version ON asset_embeddings (model_version, stored_at);
    CREATE TABLE asset_hashes (
        sha256 TEXT PRIMARY KEY,
        phash INTEGER NOT NULL,       -- imagehash.phash (64 bits, stored signed)
        dhash INTEGER NOT NULL,       -- imagehash.dhash (64 bits, stored signed)
        sharpness REAL,               -- variance of the Laplacian of the grey analysis image (higher: sharper)
        stored_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE asset_hidden (
        sha256 TEXT PRIMARY KEY,      -- hidden from search results (a near-duplicate the user did not keep)
        keeper TEXT,                  -- the sha256 kept in its place, if any
        hidden_at TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
]

LATEST = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn``'s schema to ``LATEST``; return the version it was at.

    Each step runs in its own transaction together with the ``user_version``
    bump, so an interrupted migration leaves the previous version intact; the
    version is read again inside the transaction, so two processes opening
    an old catalog at once each make a step at most once.
    Raises ``RuntimeError`` when the database is newer than this program.
    """
    current: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > LATEST:
        raise RuntimeError(f"catalog schema version {current} is newer than this mediaapp ({LATEST}); upgrade mediaapp")
    for version in range(current, LATEST):
        script = MIGRATIONS[version]
        conn.execute("BEGIN IMMEDIATE")
        if conn.execute("PRAGMA user_version").fetchone()[0] > version:
            conn.execute("COMMIT")  # another process opening the catalog at the same time made this step already
            continue
        try:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return current


def _statements(script: str) -> list[str]:
    """Split a migration script on ``;`` (no statement in ``MIGRATIONS`` contains one in a literal)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
