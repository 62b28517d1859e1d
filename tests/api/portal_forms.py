"""Signing in and posting the portal's forms on the test client, as a browser does (by cookie)."""

import re
from html import unescape

from demo.catalog import DEMO_PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(client, username, password=DEMO_PASSWORD):
    """Sign in through the login form as a browser does; the client keeps the cookies."""
    page = client.get("/login")
    token = CSRF.search(page.text)[1]
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def csrf(client):
    """The token the forms of the signed-in session carry, as the home page's sign-out form shows it."""
    return CSRF.search(client.get("/").text)[1]


def post(client, url, data):
    return client.post(url, data={**data, "csrf_token": csrf(client)}, follow_redirects=False)


def text_of(response):
    return unescape(response.text)
