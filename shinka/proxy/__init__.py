"""Proxy evaluation: train a small model of a genome on real text and score it."""
