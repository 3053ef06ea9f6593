"""Unit tests for the wallet library: card codes, keys, QR, NDEF and wallet passes."""
