"""Providers: the base class custom providers subclass, and the built-in ones."""

from ..routing.policy import IterListProvider, RetryProvider
from .base import Capabilities, GeneratedImage, Provider

__all__ = ["Capabilities", "GeneratedImage", "IterListProvider", "Provider", "RetryProvider"]
