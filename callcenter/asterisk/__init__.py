"""Asterisk: AMI, FastAGI, the voice adapter and call control, recording, the dev sandbox."""
