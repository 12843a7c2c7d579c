"""HTTP layer: FastAPI routers (one per operation), auth, the error envelope."""
