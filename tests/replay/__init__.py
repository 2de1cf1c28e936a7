"""Replaying real recorded API traffic (../shared/recordings) through polymux's providers."""
