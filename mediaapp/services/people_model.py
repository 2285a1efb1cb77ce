"""The values of the People service (``mediaapp.services.people_service``): its results, constants and references.

Results: ``FaceInfo`` (a face as the People panel shows it), ``FaceGroup``
(a named person's faces or a cluster of unknown faces, keyed by
``group_key``; ``face_groups`` builds them from the catalog's faces and
persons), ``PersonSummary`` (a line of ``mediaapp people list``) and
``EnrolReport``. Safety: ``ReassignmentNeeded`` (an edit would take faces
from another person and was not allowed to) with its ``Reassignment``;
``PeopleSnapshot`` / ``PeopleEdit`` (what an edit changed, so it can be
undone and redone with ``People.restore``). Constants: ``USER_SIMILARITY``, ``MAX_ENGINE_EXAMPLES``,
``REMATCH_ATTEMPTS``. ``References`` and ``PlannedUpdate`` are what ``People``
names faces with: the references with their index, one planned naming.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from mediaapp.catalog.face_rows import EmbeddedFaces, FaceRecord, PersonRecord
from mediaapp.core.types import BoundingBox
from mediaapp.services.face_matching import ReferenceIndex

__all__ = [
    "MAX_ENGINE_EXAMPLES",
    "REMATCH_ATTEMPTS",
    "USER_SIMILARITY",
    "EnrolReport",
    "FaceGroup",
    "FaceInfo",
    "FaceState",
    "PeopleEdit",
    "PeopleSnapshot",
    "PersonSummary",
    "Reassignment",
    "ReassignmentNeeded",
    "engine_references",
    "face_groups",
    "group_key",
    "parse_group_key",
]

#: Similarity (0-100) recorded for a face the user named (or enrolled): the
#: user's word is certain, and it sorts first among a person's detections.
USER_SIMILARITY = 100.0
#: At most this many reference embeddings per person go to the local engine
#: in its config (``engine_config``), which travels with every analysis job to
#: the worker processes: 8 x 512 bytes of float32 per person keeps a job small
#: even with hundreds of people. Enrolled examples go first, then faces the
#: user named, oldest first. The parent still names every stored face against
#: all references, so this only bounds what the stored RecognizeCelebrities
#: responses can name by themselves.
MAX_ENGINE_EXAMPLES = 8


# -- results ----------------------------------------------------------------------------------

def group_key(person_id: int | None = None, group_id: int | None = None) -> str:
    """The key of a person's group (``person:<id>``) or of an unknown cluster (``group:<id>``)."""
    return f"person:{person_id}" if person_id is not None else f"group:{group_id}"


def parse_group_key(key: str) -> tuple[str, int]:
    """``("person", id)`` or ``("group", id)`` from a ``group_key``; ``ValueError`` for anything else."""
    kind, _, number = str(key).partition(":")
    if kind not in ("person", "group") or not number.lstrip("-").isdigit():
        raise ValueError(f"not a group key: {key!r}")
    return kind, int(number)


@dataclass(frozen=True)
class FaceInfo:
    """One face as the People panel shows it.

    ``box`` in ratios of the photo; ``confidence`` (detector) and
    ``similarity`` 0-100; ``crop`` the absolute path of its crop JPEG (None
    when none was written); ``path`` a file holding the photo (None for an
    enrolment example or a photo no longer in the library).
    """

    id: int
    sha256: str
    face_index: int
    box: BoundingBox
    confidence: float
    crop: str | None
    path: str | None
    person_id: int | None
    person_name: str | None
    assigned_by: str | None
    similarity: float | None
    group_id: int | None
    origin: str = "photo"


@dataclass(frozen=True)
class FaceGroup:
    """A group in the People panel: a named person's faces, or a cluster of unknown faces.

    ``key`` is ``group_key(...)``; ``name`` None for an unknown cluster;
    ``face_ids`` its photo faces (state ok), most confident first;
    ``photos`` distinct images; ``examples`` enrolled example faces;
    ``cover`` the crop shown for the group (absolute path or None);
    ``source`` how a person was made (``examples``, ``named``), None for clusters.
    """

    key: str
    name: str | None
    person_id: int | None
    group_id: int | None
    face_ids: tuple[int, ...]
    photos: int
    examples: int = 0
    cover: str | None = None
    source: str | None = None

    @property
    def title(self) -> str:
        """The name, or ``Unknown <group id>``."""
        return self.name if self.name is not None else f"Unknown {self.group_id}"


@dataclass(frozen=True)
class PersonSummary:
    """One line of ``mediaapp people list``: a name, its photo faces and photos, and where it comes from.

    ``source`` is ``local`` for persons named in this library (``how``:
    ``examples`` or ``named``) or the cloud engine whose RecognizeCelebrities
    gave the name (``rekognition``; ``faces`` is then the photo count).
    """

    name: str
    source: str
    faces: int
    photos: int
    examples: int = 0
    how: str | None = None


@dataclass
class EnrolReport:
    """What ``People.enrol`` did: ``enrolled`` example paths, ``problems`` (path, reason), photos now named."""

    name: str
    enrolled: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    photos: int = 0


@dataclass(frozen=True)
class Reassignment:
    """Faces an edit would take from other people and give ``name``.

    ``faces`` maps each other person's name to how many of their faces
    (photo faces and enrolment examples) would be named ``name``: the faces
    the edit names itself, and those automatic naming would then move.
    """

    name: str
    faces: Mapping[str, int]

    @property
    def total(self) -> int:
        """How many faces would change person."""
        return sum(self.faces.values())

    def describe(self) -> str:
        """One line: ``8 faces named Barack Obama would be named Obama``, the largest count first."""
        parts = [f"{n} face{'s' if n != 1 else ''} named {who}" if i == 0 else f"{n} named {who}"
                 for i, (who, n) in enumerate(sorted(self.faces.items(), key=lambda kv: (-kv[1], kv[0])))]
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"{listed} would be named {self.name}"


class ReassignmentNeeded(Exception):
    """An edit would re-assign faces already named as another person, and was not allowed to.

    Raised by ``People.enrol``, ``People.name_faces`` and ``People.name_group``
    called without ``reassign=True``, before anything is written (nothing
    changed). ``reassignment`` says whose faces and how many; the front end
    asks the user, then calls again with ``reassign=True``.
    """

    def __init__(self, reassignment: Reassignment):
        super().__init__(reassignment.describe())
        self.reassignment = reassignment


@dataclass(frozen=True, slots=True)
class FaceState:
    """How one face was named and grouped (what ``People.restore`` writes back).

    ``origin`` ``photo`` or ``example``; ``state`` ``ok`` or ``rejected``;
    ``person_id`` / ``assigned_by`` / ``similarity`` (0-100) as in the
    catalog, None while unknown; ``group_id`` / ``group_locked`` its cluster.
    """

    id: int
    sha256: str
    origin: str
    state: str
    person_id: int | None
    assigned_by: str | None
    similarity: float | None
    group_id: int | None
    group_locked: bool

    @classmethod
    def of(cls, face: FaceRecord) -> FaceState:
        """The state of a catalog face."""
        return cls(face.id, face.sha256, face.origin, face.state, face.person_id, face.assigned_by,
                   face.similarity, face.group_id, bool(face.group_locked))


@dataclass(frozen=True)
class PeopleSnapshot:
    """Naming and grouping at one moment, for ``People.restore``.

    ``faces``: the faces to bring back (all of them in ``People.snapshot``,
    only those an edit changed in a ``PeopleEdit``); ``persons``: person
    id -> (name, source) of every person then; ``exclusions``: (face id,
    person id) pairs to make sure of (the user's "not this person").
    """

    faces: tuple[FaceState, ...]
    persons: Mapping[int, tuple[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    exclusions: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True)
class PeopleEdit:
    """What one edit changed: ``before`` restores the state it found (undo), ``after`` what it made (redo).

    Both hold only the faces whose naming or grouping the edit changed
    (``People.changes_since``), every person, and the exclusions it removed
    (``before``) or added (``after``).
    """

    before: PeopleSnapshot
    after: PeopleSnapshot

    @property
    def changed_faces(self) -> int:
        """How many faces the edit changed."""
        return len({f.id for f in self.before.faces} | {f.id for f in self.after.faces})

    @property
    def empty(self) -> bool:
        """True when the edit changed nothing: no face, person name or exclusion."""
        return (not self.changed_faces and dict(self.before.persons) == dict(self.after.persons)
                and not self.before.exclusions and not self.after.exclusions)


def face_groups(faces: list[FaceRecord], persons: dict[int, PersonRecord],
                crop_path: Callable[[str | None], str | None]) -> list[FaceGroup]:
    """The People panel's groups (``People.groups``): named persons by name, then unknown clusters, largest first.

    ``faces`` are the catalog's ok faces, photos and examples (``FaceStore.faces(origin=None)``);
    ``persons`` maps a person id to its ``PersonRecord``; ``crop_path`` makes a
    crop name absolute (``People.crop_path``).
    """
    by_person: dict[int, list[FaceRecord]] = defaultdict(list)
    examples: dict[int, list[FaceRecord]] = defaultdict(list)
    by_group: dict[int, list[FaceRecord]] = defaultdict(list)
    for f in faces:
        if f.origin == "example":
            if f.person_id is not None:
                examples[f.person_id].append(f)
        elif f.person_id is not None:
            by_person[f.person_id].append(f)
        elif f.group_id is not None:
            by_group[f.group_id].append(f)

    def ordered(items: list[FaceRecord]) -> list[FaceRecord]:
        return sorted(items, key=lambda f: (-(f.similarity or 0.0), -f.confidence, f.id))

    out = []
    for pid, person in persons.items():
        items = ordered(by_person.get(pid, []))
        cover = next((f.crop for f in examples.get(pid, []) + items if f.crop), None)
        out.append(FaceGroup(group_key(person_id=pid), person.name, pid, None, tuple(f.id for f in items),
                             len({f.sha256 for f in items}), len(examples.get(pid, [])),
                             crop_path(cover), person.source))
    out.sort(key=lambda g: (g.name or "").casefold())
    clusters = []
    for gid, items in by_group.items():
        items = sorted(items, key=lambda f: (-f.confidence, f.id))
        cover = next((f.crop for f in items if f.crop), None)
        clusters.append(FaceGroup(group_key(group_id=gid), None, None, gid, tuple(f.id for f in items),
                                  len({f.sha256 for f in items}), 0, crop_path(cover)))
    clusters.sort(key=lambda g: (-len(g.face_ids), g.group_id))
    return out + clusters


# -- naming -----------------------------------------------------------------------------------

#: How many times an edit plans its automatic naming outside the catalog's write lock before it plans it
#: under the lock. Planning again is needed only when another process changed the references meanwhile.
REMATCH_ATTEMPTS = 3


@dataclass(frozen=True)
class References:
    """The references as read at ``FaceStore.references_version`` ``version``, with their index.

    ``occupied`` maps a photo to the persons the user named in it.
    """

    version: int
    faces: EmbeddedFaces
    index: ReferenceIndex
    occupied: dict[str, set[int]]


#: One planned automatic naming: face id, image, new person / assigned_by / similarity, and the old three.
PlannedUpdate = tuple[int, str, int | None, str | None, float | None, int | None, str | None, float | None]


def engine_references(refs: EmbeddedFaces, names: Mapping[int, str]) -> dict[str, list[str]]:
    """The named people's references the local engine gets: ``{name: [base64 float32 embedding, ...]}``.

    ``refs``: the reference faces (``FaceStore.reference_faces``); ``names``:
    person id -> name. At most ``MAX_ENGINE_EXAMPLES`` per person, enrolled
    examples first, then faces the user named, oldest first. Each embedding is
    its 128 little-endian float32 (512 bytes) in base64.
    """
    order = sorted(range(len(refs)), key=lambda i: (refs.assigned_by[i] != "example", refs.ids[i]))
    chosen: dict[str, list[int]] = {}
    for i in order:
        name = names.get(refs.person_ids[i])
        rows = chosen.setdefault(name, []) if name is not None else None
        if rows is not None and len(rows) < MAX_ENGINE_EXAMPLES:
            rows.append(i)
    return {name: [base64.b64encode(refs.embeddings[i].astype("<f4").tobytes()).decode("ascii") for i in rows]
            for name, rows in chosen.items()}
