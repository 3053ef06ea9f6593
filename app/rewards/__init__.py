"""Rewards bought with points, and stamp cards that fill up with qualifying purchases.

* ``models``: the reward catalogue, claims (with fulfilment for physical gifts), stamp
  programmes, each member's stamp card and the stamp entries that explain it.
* ``service``: the catalogue, claiming a reward (points, stock and coupon in one transaction)
  and the fulfilment of physical gifts.
* ``stamps``: stamp programmes and the purchase hook ``record_stamps_for_purchase`` the ledger
  calls inside its purchase transaction.
* ``schemas`` and ``routes``: the HTTP side.
"""
