"""Repository of instance leases (collection ``leases``): see :mod:`mano.lifecycle.lease`.

A lease changes hands through the optimistic concurrency of every repository: two activations
that read the same free lease both write it with the revision they read, and the store applies
only one of the two writes.
"""
from __future__ import annotations

from mano.records import LeaseRecord
from mano.store.repository import Repository


class LeaseRepository(Repository[LeaseRecord]):
    """Leases by instance key (``service:<uuid>``, ``vnf:<uuid>``)."""

    collection_name = "leases"
    record_type = LeaseRecord
