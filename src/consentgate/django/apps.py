"""The Django app configuration (label ``consentgate``)."""

from __future__ import annotations

from django.apps import AppConfig


class ConsentGateConfig(AppConfig):  # type: ignore[misc]  # Django ships no type hints
    """Lets ``INSTALLED_APPS`` find ``{% load consentgate %}``."""

    name = "consentgate.django"
    label = "consentgate"
    verbose_name = "consentgate"
