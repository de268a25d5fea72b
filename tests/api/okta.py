"""Reading answers as an Okta client does: error objects and `Link` headers."""


def assert_okta_error(response, status: int, code: str) -> list[str]:
    """Check an Okta error object with `status` and `code`; return its causes' summaries."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["errorCode"] == code
    assert body["errorLink"] == code
    assert body["errorId"].startswith("oae")
    assert body["errorSummary"]
    return [cause["errorSummary"] for cause in body["errorCauses"]]


def next_link(response) -> str | None:
    """The `next` URL of an Okta `Link` header, or None."""
    for part in response["Link"].split(", "):
        url, rel = part.split("; ")
        if rel == 'rel="next"':
            return url.strip("<>")
    return None
