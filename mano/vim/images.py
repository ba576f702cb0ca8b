"""Local images for the Docker VIM: a tiny busybox image built without a registry, and image maps.

Why build instead of pull: mano must run where no image registry is reachable (air-gapped
testbeds, CI). A SONATA VDU names a VM image (``vm_image``: a qcow2 URL or a name) that Docker
cannot run anyway, so every VDU runs a *stand-in* image unless the operator maps its
``vm_image`` to a local Docker image. The stand-in is Debian's statically linked busybox
(package ``busybox-static``) in a rootfs tarball that is made in memory and handed to
``docker import``: no Dockerfile, no base image, no network, about 2 MB. Busybox gives the
stand-in a shell, ``sleep``, ``ip``, ``ifconfig``, ``ping`` and ``nc``, which is enough to check
that service networks connect the VNFs.

The tarball is deterministic (fixed mtimes and owners), so rebuilding it gives the same layer.
The image carries ``CMD ["/bin/sleep", "infinity"]`` so a container of it stays up until it
is removed.

Image maps: users map SONATA ``vm_image`` strings to local images with a plain dict (the
settings layer may load it from a YAML file). :func:`resolve_image` looks a ``vm_image`` up
by its full string first, then by its last path segment (``sonata-VM-2ports.qcow`` for
``http://registry.sonata-nfv.eu/.../sonata-VM-2ports.qcow``), so one entry covers a file
served from different URLs.

Only this module and :mod:`mano.vim.docker` import the docker SDK; this module needs only a
``docker.DockerClient``-like object and imports the SDK for one helper.
"""
from __future__ import annotations

import io
import json
import logging
import os
import struct
import subprocess
import tarfile
import threading
from collections.abc import Mapping
from typing import Any

from mano.errors import VimError

log = logging.getLogger(__name__)

BUSYBOX_TAG = "mano/vnf-busybox:latest"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
BUSYBOX_IMAGE_LABEL = "mano.image=busybox"
KEEPALIVE_COMMAND = ("/bin/sleep", "infinity")

# Used when ``busybox --list-full`` cannot be run; the applets a stand-in VNF needs most.
FALLBACK_APPLETS = (
    "bin/sh", "bin/ash", "bin/cat", "bin/echo", "bin/hostname", "bin/kill", "bin/ls", "bin/mkdir",
    "bin/ping", "bin/ps", "bin/rm", "bin/sleep", "bin/true", "bin/false", "bin/netstat", "bin/date",
    "bin/grep", "bin/sed", "bin/uname", "sbin/ip", "sbin/ifconfig", "sbin/route", "sbin/arp",
    "sbin/udhcpc", "usr/bin/env", "usr/bin/nc", "usr/bin/wget", "usr/bin/awk", "usr/bin/head",
    "usr/bin/tail", "usr/bin/top", "usr/bin/traceroute", "usr/bin/tc",
)
_DIRECTORIES = {"bin": 0o755, "sbin": 0o755, "usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755,
                "etc": 0o755, "root": 0o700, "tmp": 0o1777, "proc": 0o555, "sys": 0o555, "dev": 0o755,
                "run": 0o755, "var": 0o755, "var/run": 0o755}
_FILES = {"etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
          "etc/group": b"root:x:0:\nnogroup:x:65534:\n"}
_MTIME = 1_500_000_000  # fixed, so the tarball (and the image layer) is reproducible
_PT_INTERP = 3

_ready: set[tuple[str, str]] = set()  # (docker endpoint, tag) known to exist: later calls are no-ops
_ready_lock = threading.Lock()


# --- the busybox stand-in image -------------------------------------------------------------
def ensure_busybox_image(client: Any, tag: str = BUSYBOX_TAG, *, install: bool = True) -> str:
    """Make sure the busybox stand-in image ``tag`` exists on ``client``'s dockerd; return ``tag``.

    Builds it with ``docker import`` when missing (see the module docstring). The result is
    cached per Docker endpoint and tag, so a second call makes no API call at all. ``install``
    lets it run ``apt-get install -y busybox-static`` when no static busybox is on this host.

    Raises:
        VimError: no static busybox could be found or installed, or the import failed.
    """
    key = (str(getattr(getattr(client, "api", None), "base_url", id(client))), tag)
    with _ready_lock:
        if key in _ready:
            return tag
        if not _image_exists(client, tag):
            _import_busybox_image(client, tag, find_static_busybox(install=install))
        _ready.add(key)
    return tag


def _image_exists(client: Any, tag: str) -> bool:
    import docker.errors  # the only SDK name this module needs

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _import_busybox_image(client: Any, tag: str, busybox_path: str) -> None:
    from docker.utils import parse_repository_tag

    repository, version = parse_repository_tag(tag)
    log.info("building the stand-in image %s from %s with docker import", tag, busybox_path)
    changes = [f"CMD {json.dumps(list(KEEPALIVE_COMMAND))}",
               "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               f"LABEL {BUSYBOX_IMAGE_LABEL}"]
    try:
        client.api.import_image_from_data(build_rootfs_tarball(busybox_path), repository=repository,
                                          tag=version or "latest", changes=changes)
    except Exception as exc:
        raise VimError(f"cannot build the stand-in image {tag} with docker import: {exc}") from exc
    if not _image_exists(client, tag):
        raise VimError(f"docker import reported success but image {tag} does not exist")


def build_rootfs_tarball(busybox_path: str) -> bytes:
    """A minimal root filesystem as an uncompressed tar: busybox, its applet links, /etc/passwd."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, mode in _DIRECTORIES.items():
            tar.addfile(_entry(name, tarfile.DIRTYPE, mode))
        with open(busybox_path, "rb") as binary:
            data = binary.read()
        tar.addfile(_entry("bin/busybox", tarfile.REGTYPE, 0o755, size=len(data)), io.BytesIO(data))
        for name, content in _FILES.items():
            tar.addfile(_entry(name, tarfile.REGTYPE, 0o644, size=len(content)), io.BytesIO(content))
        for applet in applet_paths(busybox_path):
            entry = _entry(applet, tarfile.SYMTYPE, 0o777)
            entry.linkname = "/bin/busybox"
            tar.addfile(entry)
    return buffer.getvalue()


def _entry(name: str, kind: bytes, mode: int, *, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, _MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def applet_paths(busybox_path: str) -> list[str]:
    """Where each applet lives (``usr/bin/awk``), from ``busybox --list-full``; a fixed list if that fails."""
    try:
        listed = subprocess.run([busybox_path, "--list-full"], capture_output=True, text=True, timeout=10,
                                check=True).stdout.split()
    except (OSError, subprocess.SubprocessError):
        listed = []
    top_dirs = {d for d in _DIRECTORIES if "/" not in d} | {"usr/bin", "usr/sbin"}
    paths = sorted({p.strip("/") for p in listed or FALLBACK_APPLETS
                    if p.strip("/").rsplit("/", 1)[0] in top_dirs and p.strip("/") != "bin/busybox"})
    return paths or sorted(FALLBACK_APPLETS)


def find_static_busybox(*, install: bool = True) -> str:
    """The path of a statically linked busybox on this host, installing busybox-static if asked.

    A dynamically linked busybox (Debian's ``busybox`` package) would not run in an image that
    has no C library, hence the ELF check.
    """
    found = _static_candidate()
    if found is None and install:
        _apt_install("busybox-static")
        found = _static_candidate()
    if found is None:
        raise VimError("no statically linked busybox found at " + ", ".join(BUSYBOX_CANDIDATES)
                       + "; install it with 'apt-get install -y busybox-static'")
    return found


def _static_candidate() -> str | None:
    return next((p for p in BUSYBOX_CANDIDATES if os.path.isfile(p) and is_static_elf(p)), None)


def _apt_install(package: str) -> None:
    """``apt-get install -y package``, refreshing the package lists once if the first try fails."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", package]
    log.info("installing %s with apt-get (needed for the stand-in image)", package)
    try:
        if subprocess.run(install, env=env, capture_output=True, timeout=600, check=False).returncode == 0:
            return
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600, check=False)
        result = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise VimError(f"cannot run apt-get to install {package}: {exc}") from exc
    if result.returncode != 0:
        raise VimError(f"apt-get install {package} failed: {result.stderr.strip()[-500:]}")


def is_static_elf(path: str) -> bool:
    """True for an ELF executable without a program interpreter (static or static-pie)."""
    try:
        with open(path, "rb") as f:
            header = f.read(64)
            if len(header) < 52 or header[:4] != b"\x7fELF":
                return False
            is_64, order = header[4] == 2, "<" if header[5] == 1 else ">"
            if is_64:
                phoff, = struct.unpack_from(order + "Q", header, 32)
                phentsize, phnum = struct.unpack_from(order + "HH", header, 54)
            else:
                phoff, = struct.unpack_from(order + "I", header, 28)
                phentsize, phnum = struct.unpack_from(order + "HH", header, 42)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    types = [struct.unpack_from(order + "I", table, i * phentsize)[0] for i in range(len(table) // phentsize)]
    return _PT_INTERP not in types


# --- image maps -------------------------------------------------------------------------------
def resolve_image(vm_image: str, image_map: Mapping[str, str], default: str) -> str:
    """The local Docker image for a VDU's ``vm_image`` (or a CDU's ``image``).

    Looks up the full string, then its last path segment; falls back to ``default``.
    """
    if vm_image in image_map:
        return image_map[vm_image]
    basename = vm_image.rstrip("/").rsplit("/", 1)[-1]
    return image_map.get(basename, default) if basename else default
