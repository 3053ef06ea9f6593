"""Anti-fraud: the attempt log, risk rules, lockouts and the staff review queue."""
