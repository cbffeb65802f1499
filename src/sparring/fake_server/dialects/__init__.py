"""One module per API wire format; each renders the same content its own way."""
