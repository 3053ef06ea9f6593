"""Referrals: members recommend the shop and both sides are rewarded after a real purchase."""
