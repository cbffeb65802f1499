"""What the fake server should do: the model, its builders, and the file loader.

Nothing is imported here: the public names live in `sparring`, and a command that needs one
light module (the library's names, the loader) must not load every builder with it.
"""
