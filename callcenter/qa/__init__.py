"""Quality review around the pure scorer in :mod:`callcenter.core.qa.scoring`: loading rules from YAML."""
