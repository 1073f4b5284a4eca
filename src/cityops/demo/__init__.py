"""Demo data for cityops: seeded geography and sample content, no database access."""
