"""Member feedback: NPS surveys answered in the PWA, complaints and service cases from staff."""
