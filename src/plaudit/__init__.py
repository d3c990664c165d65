"""Plaudit: self-hosted end-user feedback on AI responses, linked to OpenTelemetry traces."""

__version__ = "0.1.0"
__all__ = ["__version__"]
