"""Finding members: member numbers, the staff search and detail, segment member lists.

See ``docs/lifecycle.md``.
"""
