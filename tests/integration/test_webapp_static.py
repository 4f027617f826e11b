"""The reference web app on the local gateway: /room/... (singular) is the app, /rooms/... stays the API,
the dev sign-in mints tokens the API accepts, and CORS answers only the configured origins."""

from __future__ import annotations

import requests

from rooms_local import webapp_static


def test_room_urls_serve_the_app_or_say_how_to_build_it(stack, tmp_path, monkeypatch):
    base = stack.config.api_url
    for path in ("/room/booking/b-1/", "/room/session/s-1/", "/room/2f1e0d5c-0000-5000-8000-000000000000/"):
        r = requests.get(f"{base}{path}", timeout=10)
        if (webapp_static.WEBAPP_DIST / "index.html").is_file():
            assert r.status_code == 200 and '<div id="root">' in r.text, path
        else:
            assert r.status_code == 503 and "make webapp" in r.text, path
    # A built app: SPA fallback for every Room URL, hashed assets cached for good, no path escape.
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text('<div id="root"></div>')
    (dist / "assets" / "index-abc.js").write_text("console.log(1)")
    monkeypatch.setattr(webapp_static, "WEBAPP_DIST", dist)
    assert requests.get(f"{base}/room/booking/anything/", timeout=10).text == '<div id="root"></div>'
    asset = requests.get(f"{base}/assets/index-abc.js", timeout=10)
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert "javascript" in asset.headers["content-type"]
    assert requests.get(f"{base}/assets/../../pyproject.toml", timeout=10).status_code == 404
    assert requests.get(f"{base}/assets/%2e%2e/%2e%2e/pyproject.toml", timeout=10).status_code == 404


def test_the_api_keeps_its_paths(stack):
    r = requests.get(f"{stack.config.api_url}/rooms/some-room", timeout=10)
    assert r.status_code == 401  # the API's authorizer, not the app
    assert requests.get(f"{stack.config.api_url}/health", timeout=10).json()["status"] == "ok"


def test_dev_sign_in_mints_a_token_the_api_accepts_and_checks_its_body(stack):
    base = stack.config.api_url
    token = requests.post(f"{base}/dev/sign-in", json={"sub": "platform-backend", "admin": True}, timeout=10).json()
    r = requests.get(f"{base}/templates", headers={"authorization": f"Bearer {token['token']}"}, timeout=30)
    assert r.status_code == 200
    user = requests.post(f"{base}/dev/sign-in", json={"sub": "jane", "name": "Jane"}, timeout=10).json()["token"]
    assert requests.get(f"{base}/templates", headers={"authorization": f"Bearer {user}"}, timeout=30).status_code == 403
    for body, field in (({}, "sub"), ({"sub": " "}, "sub"), ({"sub": "a", "admin": "yes"}, "admin"),
                        ({"sub": "a", "name": 3}, "name")):
        r = requests.post(f"{base}/dev/sign-in", json=body, timeout=10)
        assert r.status_code == 422 and r.json()["field"] == field, body
    assert requests.get(f"{base}/dev/sign-in", timeout=10).status_code == 405


def test_cors_allows_the_configured_origins_only(stack, monkeypatch):
    base = stack.config.api_url
    monkeypatch.setenv("ROOMS_ALLOWED_ORIGINS", "https://app.example.com")
    preflight = requests.options(f"{base}/rooms/r1/token", headers={
        "origin": "https://app.example.com", "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type"}, timeout=10)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    other = requests.options(f"{base}/rooms/r1/token", headers={
        "origin": "https://evil.example", "access-control-request-method": "POST"}, timeout=10)
    assert "access-control-allow-origin" not in other.headers
    # Actual responses (errors included) carry the header too, so the app can read the error body.
    r = requests.get(f"{base}/rooms/r1", headers={"origin": "https://app.example.com"}, timeout=10)
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "https://app.example.com"
