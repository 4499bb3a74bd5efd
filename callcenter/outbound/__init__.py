"""Outbound campaigns around the pure dialler (``core/outbound``): lists, the do-not-call list,
campaign definitions, the owner's dialling job, the simulation (docs/outbound.md)."""
