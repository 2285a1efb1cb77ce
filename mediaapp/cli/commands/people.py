"""``mediaapp people add NAME IMAGE... [--reassign] | list [--json] | forget NAME | forget --all``.

- ``add``: enrol a person from example photos (the largest face of each);
  every face in the library that matches is named at once, and photos
  imported later are named as they are analysed. When that would take faces
  already named as someone else, nothing changes and one line says how many
  faces and whose (exit 2); ``--reassign`` lets them go to NAME.
  ``--engine rekognition`` enrols in the library's Rekognition face collection
  instead (``mediaapp.services.face_collection``; IndexFaces is priced).
- ``list``: the people with their photo-face and photo counts and where the
  name comes from (``local``: named in this library; ``rekognition``: Amazon
  Rekognition's RecognizeCelebrities).
- ``forget NAME``: delete that person's example embeddings and name; their
  faces become unknown again, and their faces are deleted from the face
  collection when the library has one. ``forget --all``: forget every face (all
  embeddings, crops, names and local RecognizeCelebrities results).

Exit status: 0 on success, 1 when nothing could be done (no face in any
example, unknown name, face features off), 2 for usage errors and for an
``add`` refused because it would re-assign faces named as another person.
"""

from __future__ import annotations

import json
import os
import sys

from mediaapp.core.types import CLOUD_ENGINE, LOCAL_ENGINE


def register(subparsers) -> None:
    """Add the ``people`` command and its sub-commands."""
    p = subparsers.add_parser("people", help="name people once, find all their photos")
    sub = p.add_subparsers(dest="people_command", metavar="ACTION")
    add = sub.add_parser("add", help="enrol a person from example photos")
    add.add_argument("name")
    add.add_argument("images", nargs="+", metavar="IMAGE")
    add.add_argument("--engine", choices=(LOCAL_ENGINE, CLOUD_ENGINE), default=LOCAL_ENGINE,
                     help="local (this computer; default) or rekognition: enrol in the library's Rekognition face "
                          "collection (made on first use; IndexFaces is priced), so imports with the rekognition "
                          "engine name this person")
    add.add_argument("--reassign", action="store_true",
                     help="let faces already named as another person be named NAME (refused by default)")
    add.set_defaults(func=run_add)
    ls = sub.add_parser("list", help="list named people with face and photo counts")
    ls.add_argument("--json", action="store_true", help="print a JSON list")
    ls.set_defaults(func=run_list, reads_only=True)
    forget = sub.add_parser("forget", help="forget a person (or, with --all, every face)")
    forget.add_argument("name", nargs="?")
    forget.add_argument("--all", action="store_true", help="forget every face, embedding, crop and name")
    forget.set_defaults(func=run_forget)
    p.set_defaults(func=lambda args, ctx: (p.print_help(sys.stderr), 2)[1])


def run_add(args, ctx) -> int:
    """Enrol ``args.name`` from ``args.images``; print what was enrolled and what matched.

    Refuses (exit 2, nothing changed) when faces named as another person would
    become ``args.name``'s, unless ``args.reassign``.
    """
    from mediaapp.services.people_model import ReassignmentNeeded

    if not any(os.path.isfile(os.path.expanduser(image)) for image in args.images):
        # before any work: the cloud path would otherwise create the Rekognition face collection first
        print(f"mediaapp: none of {', '.join(args.images)} is a file; nothing enrolled", file=sys.stderr)
        return 2
    if args.engine == CLOUD_ENGINE:
        return _add_in_collection(args, ctx)
    people = ctx.library().people
    try:
        report = people.enrol(args.name, args.images, reassign=args.reassign)
    except ReassignmentNeeded as refused:
        print(f"mediaapp: not enrolled: {refused}; nothing changed (--reassign to move them)", file=sys.stderr)
        return 2
    except (RuntimeError, ValueError) as exc:
        print(f"mediaapp: {exc}", file=sys.stderr)
        return 1
    for path, reason in report.problems:
        print(f"{path}: {reason}", file=sys.stderr)
    if not report.enrolled:
        print(f"mediaapp: no face to enrol {report.name!r} from", file=sys.stderr)
        return 1
    photos = "photo" if report.photos == 1 else "photos"
    print(f"enrolled {report.name} from {len(report.enrolled)} example(s); {report.photos} {photos} in the "
          "library show them")
    return 0


def _add_in_collection(args, ctx) -> int:
    """``people add --engine rekognition``: IndexFaces of each image's largest face into the collection."""
    from mediaapp.analysis.engine_base import AnalysisError

    try:
        collection = ctx.library().face_collection(create=True)
        enrolled, problems = collection.enrol(args.name, args.images)
    except (AnalysisError, ValueError) as exc:
        print(f"mediaapp: {exc}", file=sys.stderr)
        return 1
    for line in problems:
        print(line, file=sys.stderr)
    if not enrolled:
        print(f"mediaapp: no face to enrol {args.name.strip()!r} from", file=sys.stderr)
        return 1
    print(f"enrolled {args.name.strip()} in the face collection {collection.collection_id} from "
          f"{len(enrolled)} example(s); imports with the rekognition engine name them")
    return 0


def run_list(args, ctx) -> int:
    """Print one line per person: name, faces, photos, source (or JSON with ``--json``)."""
    summaries = ctx.library().people.persons()
    if args.json:
        print(json.dumps([{"Name": s.name, "Source": s.source, "Faces": s.faces, "Photos": s.photos,
                           "Examples": s.examples} for s in summaries], indent=2))
        return 0
    if not summaries:
        print("nobody is named yet (mediaapp people add NAME IMAGE...)")
        return 0
    width = max(len(s.name) for s in summaries)
    print(f"{'NAME':<{width}}  {'FACES':>5}  {'PHOTOS':>6}  SOURCE")
    for s in summaries:
        source = s.source + (f" ({s.examples} example{'s' if s.examples != 1 else ''})" if s.examples else "")
        print(f"{s.name:<{width}}  {s.faces:>5}  {s.photos:>6}  {source}")
    return 0


def _forget_in_collection(library, name: str) -> int | None:
    """DeleteFaces of ``name``'s enrolled faces when the library has a face collection: how many were
    deleted (0 without a collection or faces), None after printing why it failed."""
    from mediaapp.analysis.engine_base import AnalysisError

    try:
        collection = library.face_collection()
        return collection.forget(name) if collection is not None and collection.faces(person=name) else 0
    except AnalysisError as exc:
        print(f"mediaapp: the face collection still holds {name.strip()}'s faces: {exc}", file=sys.stderr)
        return None


def run_forget(args, ctx) -> int:
    """Forget one person, or every face with ``--all``."""
    people = ctx.library().people
    if args.all:
        if args.name:
            print("mediaapp: give a NAME or --all, not both", file=sys.stderr)
            return 2
        count = people.forget_all()
        print(f"forgot every face; {count} image(s) reindexed")
        return 0
    if not args.name:
        print("mediaapp: people forget needs a NAME (or --all)", file=sys.stderr)
        return 2
    cloud = _forget_in_collection(ctx.library(), args.name)
    if cloud is None:
        return 1
    if not people.forget_person(args.name) and not cloud:
        print(f"mediaapp: nobody called {args.name!r} in this library", file=sys.stderr)
        return 1
    if cloud:
        print(f"deleted {cloud} face(s) of {args.name.strip()} from the face collection")
    print(f"forgot {args.name.strip()}; their faces are unknown again")
    return 0
