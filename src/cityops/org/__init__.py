"""Organisation: administrative areas and grids, departments, users, roles, credentials."""
