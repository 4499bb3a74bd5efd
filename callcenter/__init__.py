"""Open-source contact-center server: ACD, IVR, recording and omnichannel on a real Asterisk."""

__version__ = "0.1.0"
