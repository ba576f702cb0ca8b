"""Infrastructure: the VIM driver interface, topology files and the emulated VIM."""
from mano.lifecycle.vim_port import (DeployedUnit, DeployedVnf, Network, NetworkRequest, Pop, UnitRequest, VimDriver,
                           VnfDeployment, WanLink)
from mano.vim.topology import load_infrastructure, load_topology

__all__ = ["DeployedUnit", "DeployedVnf", "Network", "NetworkRequest", "Pop", "UnitRequest", "VimDriver",
           "VnfDeployment", "WanLink", "load_infrastructure", "load_topology", "make_driver"]


def make_driver(kind: str, pops: "list[Pop]", **options):
    """Build the VIM driver named ``kind`` (``emulated``, ``docker`` over ``pops``; ``sonata-ia``,
    whose PoPs are the adaptor's VIMs, with ``settings``)."""
    if kind == "emulated":
        from mano.vim.emulated import EmulatedVim
        return EmulatedVim(pops, **options)
    if kind == "docker":
        from mano.vim.docker import DockerVim  # imports the docker SDK only when asked for
        return DockerVim(pops, **options)
    if kind == "sonata-ia":
        from mano.vim.sonata_ia import SonataIaVim  # imports pika only when asked for
        return SonataIaVim(**options)
    raise ValueError(f"unknown VIM kind {kind!r}; expected 'emulated', 'docker' or 'sonata-ia'")
