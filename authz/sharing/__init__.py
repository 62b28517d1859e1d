"""Sharing requests under 统一受理、平台授权, and the grants they end in."""
