"""Package data: one TOML file per language (keyword sets and revocation grammar)."""
