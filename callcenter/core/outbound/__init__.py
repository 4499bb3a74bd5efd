"""Outbound campaigns, the pure half: campaign settings, calling windows, pacing and the dialler."""
