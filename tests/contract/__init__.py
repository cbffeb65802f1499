"""The fault contract: every error preset and fault, and what each client sees."""
