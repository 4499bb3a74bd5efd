"""Answered calls: the state machine of call control and its messages."""
