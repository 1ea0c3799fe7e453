"""Built-in training plugins."""
