"""Tests of opensts.tokens (pure crypto layer)."""
