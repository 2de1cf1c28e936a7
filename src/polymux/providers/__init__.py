"""Providers: the base class custom providers subclass, and the built-in ones."""

from .base import Capabilities, GeneratedImage, Provider

__all__ = ["Capabilities", "GeneratedImage", "Provider"]
