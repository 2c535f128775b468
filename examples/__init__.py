"""Examples of wiring consentgate into an app (not part of the installed package)."""
