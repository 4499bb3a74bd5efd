"""Quality review around the pure scorer in :mod:`callcenter.core.qa`: loading rules from YAML."""
