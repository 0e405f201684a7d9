"""verifier.web.empty_redirects: a redirect without a body says no Content-Type."""

from __future__ import annotations

import falcon
import falcon.asgi
import falcon.testing

from verifier.web.empty_redirects import UntypedEmptyRedirects


class _Answers:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        kind = req.get_param("kind")
        if kind == "redirect":
            resp.status = falcon.HTTP_303
            resp.location = "/next"
        elif kind == "redirect-with-body":
            resp.status = falcon.HTTP_302
            resp.location = "/next"
            resp.content_type = falcon.MEDIA_HTML
            resp.text = '<a href="/next">/next</a>'
        else:
            resp.media = {"ok": True}


def _client() -> falcon.testing.TestClient:
    app = falcon.asgi.App()
    app.add_route("/", _Answers())
    return falcon.testing.TestClient(UntypedEmptyRedirects(app))


def test_an_empty_redirect_has_no_content_type() -> None:
    answer = _client().simulate_get("/", params={"kind": "redirect"})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/next"
    assert "Content-Type" not in answer.headers
    assert answer.content == b""


def test_a_redirect_with_a_body_keeps_its_content_type() -> None:
    answer = _client().simulate_get("/", params={"kind": "redirect-with-body"})
    assert answer.status_code == 302
    assert answer.headers["Content-Type"] == falcon.MEDIA_HTML


def test_other_answers_keep_their_content_type() -> None:
    answer = _client().simulate_get("/")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json == {"ok": True}
