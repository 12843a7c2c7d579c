"""Pydantic models: request bodies, answers and the records the services keep."""
