"""The points ledger: every change of a member's points, earning at the till, refunds, tiers.

* ``models``: ledger entries (append-only; the database refuses ``UPDATE`` and ``DELETE``),
  purchases and their refunds, the programme settings, bonus rules, promotions and tiers.
* ``triggers``: the immutability triggers for SQLite and PostgreSQL, as importable DDL.
* ``service``: ``post_ledger_entry``, ``spend_points``, ``reverse_entry`` and the balance check
  other packages and the CLI call.
* ``earning``: the earning rules and the pure function that turns a basket into points.
* ``tiers``: the tier ladder, upgrades, reviews at the end of a qualification period, progress.
* ``purchases``: booking a purchase and its refunds at the till.
* ``expiry``: points that expire after a period of inactivity.
* ``schemas``, ``routes``, ``cli``, ``demo``: the HTTP, command-line and demo sides.
"""
