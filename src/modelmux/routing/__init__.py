"""Which provider answers: fallback across a list, in order."""

from .fallback import Selection, first_success, is_retryable, select_provider

__all__ = ["Selection", "first_success", "is_retryable", "select_provider"]
