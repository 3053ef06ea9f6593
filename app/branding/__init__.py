"""The shop's branding: name, logo and colours, edited by admins, read by every app."""
