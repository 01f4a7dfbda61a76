"""Business rules of the BSS: pure Python, no web or database imports."""
