"""The SONATA northbound contract: parsing gatekeeper requests, building the replies.

Pure translation (no broker, no Ray): ``actors/gateway.py`` moves the messages.
"""
