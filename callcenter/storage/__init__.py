"""Storage: the database (one shared engine), its models and migrations, the stores."""
