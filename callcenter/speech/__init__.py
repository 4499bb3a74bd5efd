"""Offline speech recognition of recorded calls: engines, audio handling, the worker pool and queue.

The engines (pocketsphinx, vosk) are optional dependencies (``pip install callcenter[speech]``);
they are imported only when an engine is made, so the server runs without them until transcription
is configured.
"""
