"""The Ray shells: one actor per plugin, per service instance and per VNF instance.

Only this package imports ``ray``. Each actor wraps a plain class from ``mano.lifecycle`` (or
``placement``) and implements the lifecycle ports with remote calls (``actors.handles``).
"""
