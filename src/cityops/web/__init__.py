"""The HTTP face of cityops: FastAPI factory, error mapping, dependencies (and later, pages)."""
