"""The SONATA northbound contract: parsing gatekeeper requests, building the replies.

``northbound`` and ``core`` are pure translation (no broker, no Ray); ``actor`` is the entry
point that moves the messages: the gateway actor over one broker connection, and
:func:`~mano.gateway.actor.start_gateway` (``mano gateway``, ``mano up --gateway``).
"""
