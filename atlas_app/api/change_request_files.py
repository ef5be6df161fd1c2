"""``GET /api/change-request-attachments/{id}``: a change request's attachment for signed-in staff who may read change
requests (a member organisation's, or the service provider; the ``atlas_session`` cookie). Anyone else, signed in
or not, gets 404, the same answer as for an attachment that does not exist. The file is always a download, with
``nosniff`` and a CSP that runs nothing, whatever it holds."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atlas_app.api.threads import run_in_threadpool
from atlas_app.services.platform import auth
from atlas_app.services.platform.errors import AtlasError, NotFound, PermissionDenied
from atlas_app.services.user_group import change_requests
from atlas_app.web_session import session_token_from_cookie_header


def _disposition(name: str) -> str:
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name) or "attachment"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


async def attachment(request: Request) -> Response:
    try:
        session = session_token_from_cookie_header(request.headers.get("cookie"))
        actor = await run_in_threadpool(auth.resolve, session) if session else None
        if actor is None:
            raise NotFound("No such attachment.")
        try:
            f = await run_in_threadpool(change_requests.attachment, actor, request.path_params["attachment_id"])
        except PermissionDenied:
            raise NotFound("No such attachment.") from None
    except AtlasError as exc:
        return JSONResponse({"error": str(exc)}, status_code=exc.status_code, headers={"Cache-Control": "no-store"})
    return Response(f.data, media_type=f.content_type.split(";")[0],
                    headers={"Content-Type": f.content_type, "Content-Disposition": _disposition(f.file_name),
                             "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
                             "Content-Security-Policy": "default-src 'none'; sandbox"})


routes = [Route("/api/change-request-attachments/{attachment_id:int}", attachment, methods=["GET"])]
