"""consentgate."""
