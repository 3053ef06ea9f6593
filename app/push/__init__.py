"""Web Push to members' devices (RFC 8030 delivery, RFC 8291 encryption, RFC 8292 VAPID)."""
