"""The transformer built from a genome and its compression layers (torch code lives here)."""
