"""LLM provider adapters (echo, openai-compatible, anthropic) and, later, the model catalog."""
