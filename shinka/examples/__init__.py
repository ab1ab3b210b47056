"""Example objective functions for generic campaigns."""
