"""Embedders (the `Embedder` port): OpenAI, an HTTP embeddings service, and the in-process
models (MiniLM, CLIP, SigLIP) that are imported only when they first embed."""
