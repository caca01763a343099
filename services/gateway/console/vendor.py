"""The browser libraries the console serves, vendored from the npm registry (no build chain).

``libsodium`` and ``libsodium-wrappers`` 0.8.4 (ISC licence) open sealed disclosures in the
browser. Their UMD files are committed under ``static/vendor/`` with the licence; this module
records where each comes from (tarball URL and the registry's ``sha512`` integrity) and each
file's SHA-256. A unit test compares the committed files with these digests;
``python -m services.gateway.console.vendor`` fetches the tarballs again, checks their integrity
and rewrites the files (to upgrade: change the versions and digests here, run it, commit).
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).with_name("static") / "vendor"


@dataclass(frozen=True, slots=True)
class Vendored:
    """One file taken from one npm package tarball."""

    package: str
    version: str
    integrity: str
    """The registry's ``dist.integrity`` of the tarball (``sha512-<base64>``)."""
    member: str
    """The file's path inside the tarball."""
    target: str
    """The file's name under ``static/vendor/``."""
    sha256: str

    @property
    def tarball(self) -> str:
        """The tarball's address on the npm registry."""
        return f"https://registry.npmjs.org/{self.package}/-/{self.package}-{self.version}.tgz"


FILES: tuple[Vendored, ...] = (
    Vendored("libsodium", "0.8.4",
             "sha512-lMcYaRi0zcs7tarATsQUYC7rstliIXZuoq0c6zXSgNtSNtdvBgkSegjWhpMJAXzKX3SUSwIp7+zEsob+j3LuRw==",
             "package/dist/modules/libsodium.js", "libsodium.js",
             "9d9731995989ac2d7c73ba4fb6717e43cd2a4a4299c442b710c2d9e5065b14d1"),
    Vendored("libsodium-wrappers", "0.8.4",
             "sha512-mu8aAWucZjTB5O/BtGXtW4e1agy7uHxNYG7zPthmmD1jU43LCDmSWZLN4JhflbdPXj3yDO4lxM1O9hLDgIOXDw==",
             "package/dist/modules/libsodium-wrappers.js", "libsodium-wrappers.js",
             "d015a93315140974698318d94274ff63c6d22530d8b0e3f3770d9bfeadc7eb60"),
    Vendored("libsodium", "0.8.4",
             "sha512-lMcYaRi0zcs7tarATsQUYC7rstliIXZuoq0c6zXSgNtSNtdvBgkSegjWhpMJAXzKX3SUSwIp7+zEsob+j3LuRw==",
             "package/LICENSE", "LICENSE.libsodium.txt", ""),
)
"""What is vendored; a licence file's digest is not pinned (empty)."""


def mismatches(folder: Path = VENDOR) -> list[str]:
    """The vendored files that are missing or differ from their recorded SHA-256."""
    out = []
    for f in FILES:
        path = folder / f.target
        if not path.exists():
            out.append(f"{f.target}: missing")
        elif f.sha256 and hashlib.sha256(path.read_bytes()).hexdigest() != f.sha256:
            out.append(f"{f.target}: differs from {f.package} {f.version}")
    return out


def fetch(folder: Path = VENDOR) -> list[Path]:
    """Download each tarball, check its integrity, extract the files, check their digests."""
    folder.mkdir(parents=True, exist_ok=True)
    tarballs: dict[str, bytes] = {}
    written = []
    for f in FILES:
        if f.tarball not in tarballs:
            with urllib.request.urlopen(f.tarball, timeout=60) as answer:  # noqa: S310 - fixed https URL
                data = answer.read()
            digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
            if digest != f.integrity:
                raise SystemExit(f"{f.tarball}: integrity {digest} is not the pinned {f.integrity}")
            tarballs[f.tarball] = data
        with tarfile.open(fileobj=io.BytesIO(tarballs[f.tarball]), mode="r:gz") as tar:
            member = tar.extractfile(f.member)
            if member is None:
                raise SystemExit(f"{f.tarball} has no {f.member}")
            body = member.read()
        if f.sha256 and hashlib.sha256(body).hexdigest() != f.sha256:
            raise SystemExit(f"{f.member} of {f.tarball} does not have the pinned SHA-256")
        (folder / f.target).write_bytes(body)
        written.append(folder / f.target)
    return written


if __name__ == "__main__":
    for path in fetch():
        print(path)
    sys.exit(1 if mismatches() else 0)
