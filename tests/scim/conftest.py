import json

import pytest

from scim.services import scim_client_create

SCIM_JSON = "application/scim+json"


@pytest.fixture
def scim_client_and_token(db):
    return scim_client_create(name="Okta")


@pytest.fixture
def scim_token(scim_client_and_token):
    return scim_client_and_token[1]


class Scim:
    """The Django test client speaking SCIM with a client's bearer token, as IdPs send it."""

    def __init__(self, client, token):
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def call(self, method, path, body=None, content_type=SCIM_JSON, **extra):
        data = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        kwargs = {"content_type": content_type} if data is not None else {}
        return getattr(self.client, method)(
            f"/scim/v2/{path}", data, **kwargs, **self.headers, **extra
        )

    def get(self, path, **params):
        return self.client.get(f"/scim/v2/{path}", params, **self.headers)

    def post(self, path, body, **kw):
        return self.call("post", path, body, **kw)

    def put(self, path, body, **kw):
        return self.call("put", path, body, **kw)

    def patch(self, path, body, **kw):
        return self.call("patch", path, body, **kw)

    def delete(self, path):
        return self.client.delete(f"/scim/v2/{path}", **self.headers)


@pytest.fixture
def scim(client, scim_token):
    return Scim(client, scim_token)
