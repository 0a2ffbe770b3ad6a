"""Scrub rules."""
