"""Member cards in the service: issuing, showing, presenting at the till, revoking."""
