"""The knowledge base around its pure core (core/kb/): text to search words, Markdown to safe HTML,
the store's port, importing Markdown files, the suggestion seam (docs/knowledge-base.md)."""
