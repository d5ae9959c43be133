"""Evidence Vault: body-camera footage from dock to the end of its retention."""

__version__ = "0.1.0"
