"""shinka: evolutionary, hardware-aware architecture search for compressed transformer language models."""

__version__ = "0.1.0"
