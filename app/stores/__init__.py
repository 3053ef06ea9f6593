"""Stores and the tills registered in them."""
