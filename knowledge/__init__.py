"""Approved help-center knowledge: loaders, chunking, the Chroma index and retrieval. Never imports worker/."""
