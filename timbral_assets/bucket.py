"""The raw landing bucket: a local folder by default, any fsspec URL (s3://, gs://, memory://) the same way.

Raw pages and files land here unchanged before they are parsed, so every table can be rebuilt from it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import fsspec


@dataclass(frozen=True)
class Bucket:
    url: str

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return fsspec.url_to_fs(self.url)[0]

    @property
    def root(self) -> str:
        return fsspec.url_to_fs(self.url)[1].rstrip("/")

    def path(self, key: str) -> str:
        return f"{self.root}/{key.lstrip('/')}"

    def is_local(self) -> bool:
        return "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))

    def put_bytes(self, key: str, data: bytes) -> str:
        p = self.path(key)
        self.fs.makedirs(p.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(p, "wb") as f:
            f.write(data)
        return p

    def put_json(self, key: str, obj) -> str:
        return self.put_bytes(key, json.dumps(obj, indent=2, ensure_ascii=False).encode())

    def exists(self, key: str) -> bool:
        return self.fs.exists(self.path(key))

    def read_bytes(self, key: str) -> bytes:
        with self.fs.open(self.path(key), "rb") as f:
            return f.read()

    def land_file(self, source: str, local_file: str | Path) -> str:
        """Copy a file in unchanged under landing/<source>/<content hash>/<name>; the same content lands once."""
        local_file = Path(local_file)
        digest = hashlib.sha256()
        with open(local_file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        key = f"landing/{source}/{digest.hexdigest()[:16]}/{local_file.name}"
        if not self.exists(key):
            p = self.path(key)
            self.fs.makedirs(p.rsplit("/", 1)[0], exist_ok=True)
            self.fs.put_file(str(local_file), p)
        return self.path(key)
