"""Corpus and findings on disk: content-addressed files, so reruns resume and deduplicate."""

from __future__ import annotations

import hashlib
from pathlib import Path


def digest(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


class Corpus:
    """Inputs of one target that reached new code, kept in ``<out>/corpus/<target>/<sha1>``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.entries: list[bytes] = []
        self._known: set[str] = set()

    def load(self) -> list[bytes]:
        """Every input already on disk (a previous run's corpus, or atheris's)."""
        found = []
        for path in sorted(self.directory.iterdir()):
            if path.is_file():
                found.append(path.read_bytes())
        return found

    def add(self, data: bytes) -> bool:
        """Keep an input; False if it was already there."""
        name = digest(data)
        if name in self._known:
            return False
        self._known.add(name)
        self.entries.append(data)
        path = self.directory / name
        if not path.exists():
            path.write_bytes(data)
        return True

    def __len__(self) -> int:
        return len(self.entries)


def finding_path(out_dir: Path, target: str, data: bytes) -> Path:
    """Where a finding's input lives: ``<out>/findings/<target>/<sha1>.bin`` (a ``.txt`` beside it)."""
    return Path(out_dir) / "findings" / target / f"{digest(data)}.bin"
