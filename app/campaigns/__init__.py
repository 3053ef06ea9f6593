"""Coupons in the service: campaigns, member coupons, till redemptions and offline sync.

The pure library ``coupons`` defines the code format and the redemption rules; this package
stores coupons so that a leaked database cannot redeem them, runs campaigns, redeems at the
till with one conditional UPDATE, and reconciles what offline tills did. See ``docs/coupons.md``.
"""
