"""The one YAML loader mano reads untrusted text with, and how to recognise its nesting limit.

Both readers of untrusted YAML (descriptors in :mod:`mano.descriptors.loader`, AMQP bodies in
:mod:`mano.messaging.envelope`) bound nesting depth themselves. libyaml (PyYAML >= 6.0.2's
bundled build) also refuses input nested about 1,000 flow levels deep, in its *scanner*, which
runs ahead of the parser: on ``[[[[…`` its error arrives before our own check sees the 65th
level. Whichever layer stops such input, the caller must hear "too deep", not "not YAML", and
must never fall back to PyYAML's recursive Python composer, which dies with ``RecursionError``.
"""
from __future__ import annotations

import yaml

__all__ = ["SAFE_DUMPER", "SAFE_LOADER", "is_nesting_limit"]

if getattr(yaml, "__with_libyaml__", False):  # pragma: no branch - depends on the build
    SAFE_LOADER: type = yaml.CSafeLoader
    SAFE_DUMPER: type = yaml.CSafeDumper
else:  # pragma: no cover - pure-Python PyYAML
    SAFE_LOADER = yaml.SafeLoader
    SAFE_DUMPER = yaml.SafeDumper

# libyaml's words when a flow or block collection nests deeper than its limit
_LIBYAML_NESTING_PROBLEM = "exceeded maximum nesting depth"


def is_nesting_limit(exc: BaseException) -> bool:
    """True when the parser gave up because the input nests too deeply.

    That is libyaml's nesting limit (a ``YAMLError`` with its fixed problem text) or the
    recursion limit of PyYAML's pure-Python composer (``RecursionError``).
    """
    if isinstance(exc, RecursionError):
        return True
    problem = getattr(exc, "problem", None) or str(exc)
    return isinstance(exc, yaml.YAMLError) and _LIBYAML_NESTING_PROBLEM in problem
