"""Post-contact surveys around the pure core (``core/surveys``): the file, the store's seam, asking."""
