"""Serving: GGUF export, `ftp serve` on an existing engine, endpoint evaluation, the parity
gate and `ftp bench serve`."""
