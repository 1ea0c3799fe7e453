"""Built-in plugins: one module per capability, registered through the `ftp` hooks exactly
as a third-party package's plugin is."""
