"""Historical reports, pure: the event log into 15-minute interval rows, and their roll-ups
(docs/reports.md)."""
