"""Importing a till history (a POS export, CSV): members, purchases and points.

See ``docs/lifecycle.md``.
"""
