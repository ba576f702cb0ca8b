"""mano's HTTP northbound: ETSI GS NFV-SOL 005 NS lifecycle management (:mod:`mano.rest.app`),
its resources built from mano's records by :mod:`mano.rest.sol005`. FastAPI and uvicorn are
imported only when the API is served."""
