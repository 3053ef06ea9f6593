"""Segments: rule trees over member attributes, evaluated in SQL (``docs/lifecycle.md``)."""
