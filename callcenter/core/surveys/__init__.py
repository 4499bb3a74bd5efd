"""Post-contact surveys: definitions, answers, CSAT and NPS (pure; docs/reports.md)."""
