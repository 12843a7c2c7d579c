"""Backfills and model migrations (api.md, "Backfill and model migration").

- `sources`: what a document is embedded from (a payload path, or its stored object);
- `embedding`: inputs → vectors in the model's batches, one bad input failing alone;
- `tasks`: creating a backfill task and its first message (promotion, migration);
- `migration`: the migrate and cancel rules;
- `mirror`: writes to an index being migrated also reach its shadow copy, first;
- `worker`: the queue's messages — list the documents into pages, fill a page, reconcile and
  swap a migration, drop a retired copy.
The task records and the queue are ports (`stratus.ports.backfill`)."""
