"""The Home Credit schema: tables, columns, vocabularies, and validation of single records."""
