"""Download one terraform release into a directory, checked against its SHA256SUMS.

Run at image build time (Dockerfile), with nothing but Python: the slim base image has
no curl nor unzip, and installing them would only add packages to pin. The checksum file
comes over HTTPS from the same release; pin TERRAFORM_VERSION in the Dockerfile.
"""

from __future__ import annotations

import hashlib
import io
import sys
import urllib.request
import zipfile
from pathlib import Path

RELEASES = "https://releases.hashicorp.com/terraform"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.read()


def main(version: str, arch: str, target: str) -> None:
    name = f"terraform_{version}_linux_{arch}.zip"
    sums = fetch(f"{RELEASES}/{version}/terraform_{version}_SHA256SUMS").decode()
    expected = {line.split()[1]: line.split()[0] for line in sums.splitlines() if line.strip()}
    archive = fetch(f"{RELEASES}/{version}/{name}")
    actual = hashlib.sha256(archive).hexdigest()
    if expected.get(name) != actual:
        sys.exit(f"{name}: sha256 {actual} does not match SHA256SUMS ({expected.get(name)})")
    binary = Path(target) / "terraform"
    binary.write_bytes(zipfile.ZipFile(io.BytesIO(archive)).read("terraform"))
    binary.chmod(0o755)
    print(f"terraform {version} ({arch}) -> {binary}, sha256 of the archive {actual}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
