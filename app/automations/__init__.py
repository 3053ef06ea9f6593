"""Automations: triggers that enrol members, actions that reach them, control groups that count."""
