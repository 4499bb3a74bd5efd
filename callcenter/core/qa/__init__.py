"""Quality: redaction, transcripts, scoring and scorecards."""
