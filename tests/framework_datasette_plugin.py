"""A Datasette plugin for the framework tests: the consent inside a view, a streamed page.

``/-/sign-in?id=...`` signs in as Datasette does: the signed ``ds_actor`` cookie.
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import AsgiStream, Response

from .framework_apps import HTML, consent_json, stream_parts


async def consent_view(request: Any) -> Any:
    return Response.json(consent_json(request.scope["state"]["consent"]))


async def stream(request: Any) -> Any:
    async def write(writer: Any) -> None:
        async for part in stream_parts():
            await writer.write(part)

    return AsgiStream(write, content_type=HTML)


async def sign_in(datasette: Any, request: Any) -> Any:
    response = Response.redirect("/")
    actor = {"a": {"id": request.args.get("id")}}
    response.set_cookie("ds_actor", datasette.sign(actor, "actor"))
    return response


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [(r"^/consent$", consent_view), (r"^/stream$", stream), (r"^/-/sign-in$", sign_in)]
