"""URLs of the Django app in the framework tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import path

from consentgate.django import consent_of_request

from .framework_apps import HTML, STREAM_PARTS, consent_json


def home(request: Any) -> HttpResponse:
    return render(request, "home.html")


def consent_view(request: Any) -> JsonResponse:
    return JsonResponse(consent_json(consent_of_request(request)))


async def stream(request: Any) -> StreamingHttpResponse:
    async def parts() -> AsyncIterator[str]:
        for part in STREAM_PARTS:
            yield part

    return StreamingHttpResponse(parts(), content_type=HTML)


def form(request: Any) -> HttpResponse:
    request.session["count"] = request.session.get("count", 0) + 1
    return HttpResponse(
        f"q={request.POST.get('q')} count={request.session['count']}", content_type="text/plain"
    )


urlpatterns = [
    path("", home),
    path("consent", consent_view),
    path("stream", stream),
    path("form", form),
]
