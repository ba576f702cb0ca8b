"""The ``mano`` command line, over the same API as ``import mano``."""
from mano.cli.main import main

__all__ = ["main"]
