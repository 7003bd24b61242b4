"""Supervised adapters: toy problems, synthetic regression, class pairs; a tiny trainer."""
