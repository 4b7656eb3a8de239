"""Hashes of written files: a snapshot's content hash, a run's record of what it trained on and with which code."""

import hashlib
from pathlib import Path


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_hash(paths: list[Path]) -> str:
    """One hash over the data files' names and bytes, independent of the folder they are in."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.name):
        digest.update(f"{path.name}:{file_digest(path)}\n".encode())
    return digest.hexdigest()
