"""Where backups live: a local folder (ClickHouse's File engine) or S3 (its S3 engine).

A backup `<id>` is `store/` (ClickHouse's backup), the metadata DB's dump and
`manifest.json`. The engine writes `store/` itself; Tally writes the other two (fsspec for
S3). Errors of fsspec's S3 filesystem are translated here into StoreError.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from tally.errors import StoreError


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Place(Protocol):
    """A backup location."""

    def engine(self, backup_id: str) -> str:
        """The SQL backup engine of the backup's `store/`."""
        ...

    def put(self, backup_id: str, name: str, source: Path) -> None:
        """Store a file of the backup (the manifest is put last)."""
        ...

    def get(self, backup_id: str, name: str, dest: Path) -> bool:
        """Fetch a file of the backup to `dest`; False when it is not there."""
        ...

    def ids(self) -> list[str]:
        """The backups' ids (complete or not)."""
        ...

    def remove(self, backup_id: str) -> None:
        """Delete a backup wholly."""
        ...

    def size(self, backup_id: str) -> int:
        """Bytes the backup's `store/` takes."""
        ...

    def describe(self, backup_id: str) -> str:
        """Where the backup is, for people (no credentials)."""
        ...


class LocalPlace:
    """A folder on this machine (chDB may back up only into its TALLY_BACKUP_DIR)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def engine(self, backup_id: str) -> str:
        return f"File({_quoted(str((self.root / backup_id / 'store').resolve()))})"

    def put(self, backup_id: str, name: str, source: Path) -> None:
        folder = self.root / backup_id
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f".{name}.part"
        shutil.copyfile(source, temp)
        temp.replace(folder / name)

    def get(self, backup_id: str, name: str, dest: Path) -> bool:
        found = self.root / backup_id / name
        if not found.is_file():
            return False
        shutil.copyfile(found, dest)
        return True

    def ids(self) -> list[str]:
        return [p.name for p in self.root.iterdir() if p.is_dir()] if self.root.is_dir() else []

    def remove(self, backup_id: str) -> None:
        shutil.rmtree(self.root / backup_id, ignore_errors=True)

    def size(self, backup_id: str) -> int:
        store = self.root / backup_id / "store"
        return sum(p.stat().st_size for p in store.rglob("*") if p.is_file())

    def describe(self, backup_id: str) -> str:
        return str(self.root / backup_id)


class S3Place:
    """`s3://bucket/prefix` (any S3-compatible endpoint), written by the engine and fsspec."""

    def __init__(self, url: str, *, endpoint: str | None, key: str, secret: str) -> None:
        parts = urlsplit(url)
        self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
        self._endpoint = (endpoint or f"https://{self.bucket}.s3.amazonaws.com").rstrip("/")
        self._key, self._secret = key, secret

    def _fs(self) -> Any:
        import fsspec

        options: dict[str, Any] = {"key": self._key or None, "secret": self._secret or None}
        if "amazonaws.com" not in self._endpoint:
            options["client_kwargs"] = {"endpoint_url": self._endpoint}
        return fsspec.filesystem("s3", **options)

    def _path(self, *parts: str) -> str:
        return "/".join(p for p in (self.bucket, self.prefix, *parts) if p)

    def engine(self, backup_id: str) -> str:
        aws = "amazonaws.com" in self._endpoint
        base = self._endpoint if aws else f"{self._endpoint}/{self.bucket}"
        url = "/".join(p for p in (base, self.prefix, backup_id, "store") if p)
        return f"S3({_quoted(url)}, {_quoted(self._key)}, {_quoted(self._secret)})"

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary: botocore and aiohttp errors
            line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise StoreError(f"backup storage: {what}: {type(exc).__name__}: {line}") from None

    def put(self, backup_id: str, name: str, source: Path) -> None:
        self._call("upload", self._fs().put_file, str(source), self._path(backup_id, name))

    def get(self, backup_id: str, name: str, dest: Path) -> bool:
        try:
            self._call("download", self._fs().get_file, self._path(backup_id, name), str(dest))
        except FileNotFoundError:
            return False
        return True

    def ids(self) -> list[str]:
        fs = self._fs()
        try:
            found = self._call("list", lambda: fs.ls(self._path(), detail=False))
        except FileNotFoundError:
            return []
        return [str(p).rstrip("/").rsplit("/", 1)[-1] for p in found]

    def remove(self, backup_id: str) -> None:
        try:
            fs = self._fs()
            self._call("remove", lambda: fs.rm(self._path(backup_id), recursive=True))
        except FileNotFoundError:
            return

    def size(self, backup_id: str) -> int:
        try:
            return int(self._call("size", self._fs().du, self._path(backup_id, "store")))
        except FileNotFoundError:
            return 0

    def describe(self, backup_id: str) -> str:
        return "s3://" + self._path(backup_id)
