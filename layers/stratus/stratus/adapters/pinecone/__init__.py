"""`VectorStore` on Pinecone serverless: `store.PineconeVectorStore` (layout, limits and the
filter compiler's design: docs/vector-stores.md, "Pinecone")."""

STORE_NAME = "pinecone"
