"""Built-in environments, one module each, all of the same shape: a state model and tools."""
