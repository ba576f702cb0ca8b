"""Build the local Docker image container SMs run in (no registry needed).

Two layers, each cached by tag:

1. ``mano/sm-base:bookworm-py311`` – a Debian bookworm *minbase* root file system made with
   ``debootstrap`` (``python3``, ``python3-pika``, ``python3-yaml``, from the Debian mirror of
   apt's sources) plus pydantic 2 and its dependencies copied from this interpreter's
   site-packages (Debian ships pydantic 1; bookworm's Python is 3.11, the same ABI as ours),
   imported with ``docker import``. ~35 s of debootstrap plus ~20 s of import; done once.
2. ``mano/sm-python:<hash>`` – the base plus this checkout's ``ssm`` package and
   ``examples/ssm`` under ``/opt/mano``, entry point ``python3 -m ssm.container``. The tag is a
   hash of those files, so a code change gives a new image (a few seconds) and an unchanged
   checkout reuses the old one.

Run ``python -m mano.sm.image`` to build both and print the image name. An SM image of your
own is ``FROM mano/sm-python:<hash>`` with ``CMD ["your.module:YourClass"]``, or set the
descriptor option ``class`` (passed as ``MANO_SM_CLASS``).
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import ssm

__all__ = ["BASE_IMAGE", "ImageBuildError", "code_files", "ensure_base_image", "ensure_sm_image",
           "sm_image_tag"]

log = logging.getLogger(__name__)

BASE_IMAGE = "mano/sm-base:bookworm-py311"
SM_REPOSITORY = "mano/sm-python"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-pika", "python3-yaml")
COPIED_MODULES = ("pydantic", "pydantic_core", "annotated_types", "typing_inspection", "typing_extensions")
REPO = Path(ssm.__file__).resolve().parents[1]


class ImageBuildError(Exception):
    """The image cannot be built here; the text says why."""


def _docker() -> Any:
    import docker

    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        raise ImageBuildError(f"dockerd is not reachable: {exc}") from None
    return client


def _exists(client: Any, tag: str) -> bool:
    import docker

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_base_image(client: Any | None = None, *, workdir: Path | None = None) -> str:
    """Build :data:`BASE_IMAGE` unless it exists; return its tag."""
    client = client or _docker()
    if _exists(client, BASE_IMAGE):
        return BASE_IMAGE
    if sys.version_info[:2] != (3, 11):
        raise ImageBuildError(f"pydantic is copied from this interpreter, which is Python "
                              f"{sys.version_info[0]}.{sys.version_info[1]}; bookworm's is 3.11")
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise ImageBuildError("debootstrap is not installed (apt-get install -y debootstrap)")
    if os.geteuid() != 0:
        raise ImageBuildError("debootstrap needs root")
    with tempfile.TemporaryDirectory(prefix="mano-sm-rootfs-", dir=workdir) as tmp:
        rootfs = Path(tmp) / "rootfs"
        log.info("debootstrap bookworm into %s (about a minute)", rootfs)
        command = [debootstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}", "bookworm",
                   str(rootfs), DEBIAN_MIRROR]
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise ImageBuildError("debootstrap failed: " + " | ".join(tail))
        _copy_python_modules(rootfs / "opt" / "mano" / "lib")
        for junk in ("usr/share/doc", "usr/share/man", "usr/share/locale", "var/cache/apt",
                     "var/lib/apt/lists"):
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        archive = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True, timeout=600)
        repository, _, tag = BASE_IMAGE.partition(":")
        client.api.import_image_from_file(str(archive), repository=repository, tag=tag, changes=[
            "ENV PYTHONPATH=/opt/mano/lib", "ENV PYTHONDONTWRITEBYTECODE=1", "ENV PYTHONUNBUFFERED=1",
            'CMD ["python3"]'])
    if not _exists(client, BASE_IMAGE):
        raise ImageBuildError("docker import did not produce the base image")
    return BASE_IMAGE


def _copy_python_modules(target: Path) -> None:
    import importlib

    target.mkdir(parents=True, exist_ok=True)
    for name in COPIED_MODULES:
        module = importlib.import_module(name)
        path = Path(module.__file__)
        if path.name == "__init__.py":
            shutil.copytree(path.parent, target / path.parent.name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, target / path.name)


def code_files() -> list[tuple[str, Path]]:
    """(path in the image, file here) for the SDK and the SM examples."""
    files = [(f"ssm/{p.relative_to(REPO / 'ssm')}", p) for p in sorted((REPO / "ssm").rglob("*.py"))]
    examples = REPO / "examples"
    if (examples / "ssm").is_dir():
        files.append(("examples/__init__.py", examples / "__init__.py"))
        files += [(f"examples/ssm/{p.name}", p) for p in sorted((examples / "ssm").glob("*.py"))]
    return files


def sm_image_tag() -> str:
    """``mano/sm-python:<hash of the base tag and the code>``."""
    digest = hashlib.sha256(BASE_IMAGE.encode())
    for name, path in code_files():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{SM_REPOSITORY}:{digest.hexdigest()[:12]}"


def ensure_sm_image(client: Any | None = None) -> str:
    """Build the SM image of this checkout unless it exists; return its tag."""
    client = client or _docker()
    tag = sm_image_tag()
    if _exists(client, tag):
        return tag
    ensure_base_image(client)
    dockerfile = "\n".join([
        f"FROM {BASE_IMAGE}",
        "COPY opt /opt",
        "ENV PYTHONPATH=/opt/mano:/opt/mano/lib",
        "WORKDIR /opt/mano",
        'ENTRYPOINT ["python3", "-m", "ssm.container"]',
        "CMD []",
    ]) + "\n"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        _add(tar, "Dockerfile", dockerfile.encode())
        for name, path in code_files():
            _add(tar, f"opt/mano/{name}", path.read_bytes())
    context.seek(0)
    try:
        client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True, pull=False,
                            labels={"mano.role": "sm-image"})
    except Exception as exc:  # noqa: BLE001
        raise ImageBuildError(f"docker build of {tag} failed: {exc}") from None
    return tag


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(ensure_sm_image())
