"""Paid membership: plans a shop sells, and the benefits they give while they run."""
