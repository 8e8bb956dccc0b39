"""Report files: complete or absent, on the local disk and at any fsspec URL.

Local files are written under a temporary name in the same directory and renamed (atomic
on one filesystem); an object store shows an object only once its upload completed. fsspec's
and its backends' errors are translated here, once, into `StorageFailed`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tally.errors import ValidationFailed

RUNS_DIR, TEMP_DIR = ".runs", ".tmp"


class StorageFailed(Exception):
    """A write or removal failed; `permanent` when trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


def run_file(root: Path, run_id: str, filename: str) -> Path:
    """Where a run's own file lives (what the API downloads)."""
    return root / RUNS_DIR / run_id / filename


def temp_file(root: Path, run_id: str, attempt: int) -> Path:
    """A render in progress: never under a name a reader takes for a report."""
    return root / TEMP_DIR / f"{run_id}.{attempt}.part"


def clear_temp(root: Path, run_id: str) -> int:
    """Remove what an interrupted render of this run left; how many files."""
    found = list((root / TEMP_DIR).glob(f"{run_id}.*.part"))
    for path in found:
        path.unlink(missing_ok=True)
    return len(found)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def commit(temp: Path, final: Path) -> None:
    """Move a finished temporary file to its name, flushed to disk first."""
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(temp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, final)
    _fsync_dir(final.parent)


def copy_into(src: Path, folder: Path, filename: str) -> Path:
    """Copy a file into `folder` atomically (temporary name, then rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".{filename}.{uuid.uuid4().hex}.part"
    try:
        shutil.copyfile(src, temp)
        commit(temp, folder / filename)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return folder / filename


def inside(root: Path, relative: str) -> Path:
    """`root/relative`, refused when it resolves outside `root` (a link, `..`)."""
    base = root.resolve()
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        raise ValidationFailed("deliveries.path", "outside_reports_dir",
                               "the directory must be inside TALLY_REPORTS_DIR")  # fmt: skip
    return target


def check_url(url: str, roots: list[Path], options: dict[str, dict[str, Any]]) -> None:
    """ValidationFailed unless fsspec knows the scheme and can load it; local paths in `roots`."""
    from fsspec.registry import get_filesystem_class, known_implementations

    parts = urlsplit(url)
    scheme = parts.scheme or "file"
    if scheme not in known_implementations:
        example = "e.g. s3://bucket/prefix, file:///srv/reports"
        raise ValidationFailed(
            "deliveries.url", "unknown_scheme", f"unknown URL scheme {scheme!r} ({example})"
        )
    if ".." in parts.path.split("/"):
        raise ValidationFailed("deliveries.url", "path_traversal", "no '..' in the URL's path")
    try:
        get_filesystem_class(scheme)
    except (ImportError, ValueError) as exc:
        hint = " (pip install 'tally[s3]')" if scheme in ("s3", "s3a") else ""
        message = f"{scheme}:// cannot be used here: {_line(exc)}{hint}"
        raise ValidationFailed("deliveries.url", "scheme_unavailable", message) from None
    if scheme in ("file", "local"):
        path = Path(parts.path)
        if not path.is_absolute():
            raise ValidationFailed(
                "deliveries.url", "not_absolute", "file:// URLs need an absolute path"
            )
        resolved = path.resolve()
        if not any(resolved == r.resolve() or r.resolve() in resolved.parents for r in roots):
            raise ValidationFailed("deliveries.url", "outside_reports_dir",
                                   "a file:// URL must be inside TALLY_REPORTS_DIR or "
                                   "TALLY_REPORTS_FILE_ROOTS")  # fmt: skip


@contextlib.contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Translate fsspec's and its backends' errors raised in the block."""
    try:
        yield
    except StorageFailed:
        raise
    except PermissionError as exc:
        raise StorageFailed(f"{what}: permission denied ({_line(exc)})", permanent=True) from None
    except ImportError as exc:
        raise StorageFailed(f"{what}: {_line(exc)}", permanent=True) from None
    except Exception as exc:  # noqa: BLE001 - the boundary: botocore, aiohttp, OSError…
        raise StorageFailed(f"{what}: {type(exc).__name__}: {_line(exc)}") from None


def _fs(url: str, options: dict[str, dict[str, Any]]) -> tuple[Any, str, str]:
    import fsspec

    scheme = urlsplit(url).scheme or "file"
    fs, path = fsspec.core.url_to_fs(url, **options.get(scheme, {}))
    return fs, str(path).rstrip("/"), scheme


def upload(src: Path, url: str, filename: str, options: dict[str, dict[str, Any]]) -> str:
    """Put a file at `url/filename`; the location written. Complete or not there at all."""
    with storage_errors(f"upload to {shown(url)}"):
        fs, path, scheme = _fs(url, options)
        if scheme in ("file", "local"):
            return str(copy_into(src, Path(path), filename))
        dest = f"{path}/{filename}"
        # One PUT, or a multipart upload the store shows only once completed (and aborts on
        # failure): a reader never sees half of it.
        fs.put_file(str(src), dest)
        return f"{scheme}://{dest}"


def remove(location: str, options: dict[str, dict[str, Any]]) -> bool:
    """Delete a delivered file or object; False when it was already gone."""
    if "://" not in location:
        local = Path(location)
        existed = local.exists()
        local.unlink(missing_ok=True)
        return existed
    with storage_errors(f"remove {shown(location)}"):
        fs, path, _ = _fs(location, options)
        if not fs.exists(path):
            return False
        fs.rm(path)
        return True


def shown(url: str) -> str:
    """A URL as logs and errors show it: no credentials, no query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else url


def _line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
