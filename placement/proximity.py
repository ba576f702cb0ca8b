"""SONATA's notion of closeness: how many leading IPv4 octets two addresses share (0–4).

The 2018 placement plugin scored proximity (a VNF near an ingress/egress nap) and affinity
(two VNFs near each other) by the number of common leading segments of the PoP endpoint and
the nap addresses (``find_number_of_common_segments``): 4 for identical addresses, 3 for the
same /24, and so on. We keep that measure and make it hierarchical:

* every PoP gets four *location keys*, one per level k = 1..4 (the first k octets of its VIM
  endpoint; level 4 falls back to the PoP uuid, so units on the same PoP always score 4);
* closeness(a, b) = number of levels at which the keys agree.

The hierarchical form lets the MILP express affinity with one variable per (level, prefix
group) instead of one per PoP pair (see :mod:`placement.exact`), and lets the search compare
keys with vectorised integer equality.
"""

from __future__ import annotations

import functools
import ipaddress
import re

import numpy as np

LEVELS = 4
_IPV4 = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3})")


@functools.lru_cache(maxsize=1 << 16)
def ipv4_octets(address: str) -> tuple[str, ...] | None:
    """The four octets of the first IPv4 address in ``address`` (plain, URL or CIDR), else None.

    Memoised: the live runtime parses the same PoP endpoints for every placement."""
    match = _IPV4.search(address or "")
    if not match:
        return None
    try:
        ipaddress.IPv4Address(match.group(1))
    except ValueError:
        return None
    return tuple(match.group(1).split("."))


def common_segments(first: str, second: str) -> int:
    """SONATA's closeness of two addresses: leading octets in common (0 if either is not IPv4)."""
    a, b = ipv4_octets(first), ipv4_octets(second)
    if a is None or b is None:
        return 0
    count = 0
    for x, y in zip(a, b):
        if x != y:
            break
        count += 1
    return count


def location_keys(endpoints: list[str], uuids: list[str]) -> np.ndarray:
    """Integer location keys, shape (LEVELS, n): key[k-1, i] = id of PoP i's k-octet prefix.

    A PoP without an IPv4 endpoint gets keys that match no other PoP at levels 1–3 and its
    own uuid at level 4. Equal keys at level k imply equal keys at every level below k.
    """
    n = len(endpoints)
    keys = np.zeros((LEVELS, n), dtype=np.int64)
    parsed = [ipv4_octets(endpoint) for endpoint in endpoints]
    for level in range(1, LEVELS + 1):
        table: dict[tuple, int] = {}
        for i, (octets, uuid) in enumerate(zip(parsed, uuids)):
            token = ("ip",) + octets[:level] if octets else ("pop", uuid, level)
            keys[level - 1, i] = table.setdefault(token, len(table))
    return keys


def closeness_to_address(endpoints: list[str], address: str) -> np.ndarray:
    """Closeness of each PoP endpoint to one address (a nap), as floats."""
    return np.array([common_segments(endpoint, address) for endpoint in endpoints], dtype=float)


def closeness_rows(keys: np.ndarray, pop: int) -> np.ndarray:
    """Closeness of every PoP to PoP ``pop`` (vectorised over the key matrix)."""
    return (keys == keys[:, pop : pop + 1]).sum(axis=0).astype(float)
