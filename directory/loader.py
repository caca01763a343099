"""Reading the directory file: the only module of the directory that touches the disk.

:func:`load_directory` parses and validates a YAML file and raises
:class:`~schemas.errors.ConfigurationError` naming the file, the path inside it and what is wrong.
:class:`DirectoryHolder` keeps the last good directory and reloads it when the file changes, so a
coordinator's edit takes effect without a restart and a broken edit never takes a service down.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from directory.model import Directory
from schemas.errors import ConfigurationError
from schemas.reference import Reference


@dataclass(frozen=True, slots=True)
class ReferenceCodes:
    """The reference-data codes a directory may use (from ``schemas.reference``)."""

    districts: frozenset[str]
    sectors: frozenset[str]
    risk_categories: frozenset[str]


def reference_codes(reference: Reference) -> ReferenceCodes:
    """The codes of ``schemas.reference`` that a directory may use."""
    return ReferenceCodes(
        districts=reference.codes("districts"),
        sectors=reference.codes("sectors"),
        risk_categories=reference.codes("risk_categories"),
    )


def category_sectors(reference: Reference) -> dict[str, frozenset[str]]:
    """Risk category code → the service sectors that act on it (the risk taxonomy)."""
    return {c.code: frozenset(c.sectors) for c in reference.risk_categories}


def check_codes(directory: Directory, codes: ReferenceCodes) -> list[str]:
    """Every use of a code the reference data does not know, as ``path: message`` lines."""
    problems: list[str] = []
    for i, table in enumerate(directory.tables):
        if table.district not in codes.districts:
            problems.append(f"tables[{i}].district: unknown district {table.district!r}")
    for i, org in enumerate(directory.organizations):
        for field, known, values in (
            ("districts", codes.districts, org.districts),
            ("sectors", codes.sectors, org.sectors),
            ("risk_categories", codes.risk_categories, org.risk_categories),
        ):
            for j, value in enumerate(values):
                if value not in known:
                    problems.append(f"organizations[{i}].{field}[{j}]: unknown code {value!r} ({org.name})")
    return problems


def parse_directory(text: str, source: str, codes: ReferenceCodes | None = None) -> Directory:
    """Parse and validate directory YAML; ``source`` names it in error messages."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        kind = type(raw).__name__
        raise ConfigurationError(f"{source}: expected a mapping at the top, got {kind}")
    try:
        directory = Directory.model_validate(raw)
    except ValidationError as exc:
        lines = [f"  {_path(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigurationError(
            f"{source}: invalid directory ({len(lines)} problem(s)):\n" + "\n".join(lines)
        ) from exc
    if codes is not None:
        problems = check_codes(directory, codes)
        if problems:
            raise ConfigurationError(
                f"{source}: codes not in the reference data:\n" + "\n".join(f"  {p}" for p in problems)
            )
    return directory


def load_directory(path: str | os.PathLike[str], codes: ReferenceCodes | None = None) -> Directory:
    """Load and validate the directory at ``path``.

    Raises:
        ConfigurationError: the file is missing, unreadable, not YAML, or not a valid directory.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{file}: cannot read the directory: {exc.strerror}") from exc
    return parse_directory(text, str(file), codes)


class DirectoryHolder:
    """The current directory, reloaded when the file's modification time changes.

    The first load raises on error. Later, a broken file keeps the last good directory in force
    and leaves the error in :attr:`last_error` for health checks and logs.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        codes: ReferenceCodes | None = None,
        loader: Callable[[Path, ReferenceCodes | None], Directory] = load_directory,
    ) -> None:
        self._path = Path(path)
        self._codes = codes
        self._loader = loader
        self._mtime_ns = self._stat()
        self._directory = loader(self._path, codes)
        self.last_error: ConfigurationError | None = None

    @property
    def path(self) -> Path:
        """The file this holder watches."""
        return self._path

    def current(self) -> Directory:
        """The directory in force, reloading first if the file changed since the last look."""
        mtime = self._stat()
        if mtime != self._mtime_ns:
            self._mtime_ns = mtime
            try:
                self._directory = self._loader(self._path, self._codes)
                self.last_error = None
            except ConfigurationError as exc:
                self.last_error = exc
        return self._directory

    def _stat(self) -> int | None:
        try:
            return self._path.stat().st_mtime_ns
        except OSError:
            return None


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(top)"
