"""Messaging channel adapters: provider wire formats in, typed events out; outbound requests built.

Each provider module is I/O-free (bytes and mappings in, frozen dataclasses out) so it is tested
against the providers' documented examples; ``outbox.py`` and ``http.py`` do the network part.
"""
