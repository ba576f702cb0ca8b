"""The adapter to the Ray cluster mano runs on: which cluster, and joining it.

:mod:`mano.cluster.address` reads the address and the token and checks that the head's port
answers, without importing Ray (the CLI asks before it starts anything);
:mod:`mano.cluster.connection` joins the cluster (or starts a Ray of this process's own) and
says which it did. No actor lives here: ``actors.runtime`` starts the control plane on it.
"""
