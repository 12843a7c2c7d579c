"""`VectorStore` on embedded LanceDB: `store.LanceDBVectorStore` (columns, payload indexes and
maintenance: docs/vector-stores.md, "LanceDB")."""
