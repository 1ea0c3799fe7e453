"""Built-in evaluation plugins."""
