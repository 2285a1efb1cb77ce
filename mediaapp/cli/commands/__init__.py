"""CLI sub-commands; each module exposes ``register(subparsers)`` and handlers ``run(args, ctx) -> int``."""
