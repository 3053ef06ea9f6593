"""The till: every till route and the one pipeline each till operation runs through.

``routes`` is the edge (till session in, answer out), ``pipeline`` the order of the steps,
``operations`` what each operation does at each step, ``sync`` the replay of what a till did
offline. The till uses the domain packages (cards, fraud, ledger, campaigns, rewards); none of
them imports the till.
"""
