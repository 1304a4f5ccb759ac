"""A local simulator of the Anthropic HTTP API with prompt-caching semantics."""
