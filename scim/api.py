"""The SCIM 2.0 service provider (RFC 7644) at /scim/v2/: Users, Groups and discovery.

scim2-models parses and validates every payload (resources, PatchOp, query parameters) and
applies PATCH operations, so the views only move resources between it and the services.
Errors are SCIM Error bodies (RFC 7644 §3.12) with the status and scimType the RFC names.
"""

from typing import Any

from django.http import Http404
from pydantic import ValidationError
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    Error,
    ETag,
    Filter,
    Group,
    ListResponse,
    Meta,
    NotFoundException,
    NotImplementedException,
    Patch,
    PatchOp,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
)

from common.api.parsers import StrictJSONParser
from risk.models import DirectoryGroup, Entity
from scim import services
from scim.authentication import IsScimClient, ScimClientAuthentication
from scim.filters import GROUP_ATTRIBUTES, USER_ATTRIBUTES, filter_queryset
from scim.resources import IDP_POLICY, ScimUserResource, group_resource, user_resource
from scim.selectors import scim_group_queryset, scim_user_queryset

SCIM_MEDIA_TYPE = "application/scim+json"
DEFAULT_COUNT = 100
MAX_COUNT = 1000
MODELS: dict[str, Any] = {"Users": ScimUserResource, "Groups": Group}


class ScimJSONParser(StrictJSONParser):
    """RFC 7644 §3.1: bodies are application/scim+json; plain application/json too (Okta)."""

    media_type = SCIM_MEDIA_TYPE


class ScimJSONRenderer(JSONRenderer):
    media_type = SCIM_MEDIA_TYPE


def _error(status: int, detail: str, scim_type: str = "") -> Response:
    body: dict[str, Any] = {"schemas": [str(Error.__schema__)], "status": str(status),
                            "detail": detail}  # fmt: skip
    if scim_type:
        body["scimType"] = scim_type
    return Response(body, status=status)


def _validation_error(exc: ValidationError) -> Response:
    error = Error.from_validation_error(exc.errors()[0])
    status = int(error.status or 400)
    detail = error.detail or str(exc.errors()[0].get("msg", "Invalid request"))
    loc = ".".join(str(p) for p in exc.errors()[0].get("loc", ()))
    return _error(status, f"{detail} ({loc})" if loc else detail, error.scim_type or "")


class ScimApi(APIView):
    """The base of every /scim/v2/ view: SCIM tokens only, SCIM media types, SCIM errors, no
    rate limit (an IdP's first sync sends every user at once)."""

    authentication_classes = [ScimClientAuthentication]
    permission_classes = [IsScimClient]
    throttle_classes: list = []
    # Not in our OpenAPI document: SCIM describes itself at /Schemas and /ResourceTypes
    # (RFC 7644 §4), and its clients (IdPs, scim2-tester) read that.
    schema = None
    parser_classes = [ScimJSONParser, StrictJSONParser]
    renderer_classes = [ScimJSONRenderer, JSONRenderer]

    def handle_exception(self, exc):
        if isinstance(exc, SCIMException):
            return _error(exc.status, exc.detail or str(exc), exc.scim_type or "")
        if isinstance(exc, ValidationError):
            return _validation_error(exc)
        if isinstance(exc, Http404):
            return _error(404, "Resource not found")
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            response = _error(401, str(exc.detail))
            response["WWW-Authenticate"] = 'Bearer realm="scim"'
            return response
        if isinstance(exc, exceptions.PermissionDenied):
            return _error(403, str(exc.detail))
        if isinstance(exc, exceptions.ParseError):
            return _error(400, str(exc.detail), "invalidSyntax")
        if isinstance(exc, exceptions.APIException):
            return _error(exc.status_code, str(exc.detail))
        raise exc

    def scim_response(self, payload: dict[str, Any], status: int = 200, **headers: str) -> Response:
        response = Response(payload, status=status, content_type=SCIM_MEDIA_TYPE)
        for name, value in headers.items():
            response[name] = value
        return response

    def base_url(self) -> str:
        return self.request.build_absolute_uri("/scim/v2")

    def body(self) -> dict[str, Any]:
        data = self.request.data
        if not isinstance(data, dict):
            raise SCIMException(detail="The body must be a JSON object")
        return data

    def response_parameters(self, model: Any) -> ResponseParameters:
        """`attributes` and `excludedAttributes` (RFC 7644 §3.9), comma-separated."""
        params = self.request.query_params
        return ResponseParameters[model].model_validate(
            {key: [a.strip() for a in params[key].split(",") if a.strip()]
             for key in ("attributes", "excludedAttributes") if params.get(key)},
        )  # fmt: skip


def _user_location(api: ScimApi, user_id: str) -> str:
    return f"{api.base_url()}/Users/{user_id}"


def _group_location(api: ScimApi, group_id: int | str) -> str:
    return f"{api.base_url()}/Groups/{group_id}"


def _user(api: ScimApi, entity: Entity) -> ScimUserResource:
    return user_resource(
        entity, location=_user_location(api, entity.id), group_location=_group_location(api, "{}")
    )


def _group(api: ScimApi, row: DirectoryGroup) -> Group:
    return group_resource(
        row, location=_group_location(api, row.pk), user_location=_user_location(api, "{}")
    )


def _get_user(user_id: str) -> Entity:
    entity = scim_user_queryset().filter(pk=user_id).first()
    if entity is None:
        raise NotFoundException(detail=f"User {user_id} not found")
    return entity


def _get_group(group_id: str) -> DirectoryGroup:
    row = scim_group_queryset().filter(pk=int(group_id)).first() if group_id.isdigit() else None
    if row is None:
        raise NotFoundException(detail=f"Group {group_id} not found")
    return row


class ScimListMixin:
    """Searching a resource endpoint: GET with query parameters, or POST /.search with a
    SearchRequest body (RFC 7644 §3.4.2, §3.4.3): filter, startIndex, count, attributes."""

    model: Any
    attributes: dict

    def query_search(self: Any) -> dict[str, Any]:
        params = self.request.query_params
        raw: dict[str, Any] = {}
        for key in ("filter", "startIndex", "count"):
            if params.get(key):
                raw[key] = params[key]
        for key in ("attributes", "excludedAttributes"):
            if params.get(key):
                raw[key] = [a.strip() for a in params[key].split(",") if a.strip()]
        return raw

    def list_response(self: Any, raw: dict[str, Any], queryset, to_resource) -> Response:
        search = SearchRequest[self.model].model_validate(raw, scim_ctx=Context.SEARCH_REQUEST)
        if search.filter is not None:
            queryset = filter_queryset(queryset, search.filter.ast, self.attributes)
        start = search.start_index or 1
        count = DEFAULT_COUNT if search.count is None else min(search.count, MAX_COUNT)
        total = queryset.count()
        page = list(queryset[start - 1 : start - 1 + count]) if count else []
        payload = ListResponse[self.model](
            total_results=total, start_index=start, items_per_page=len(page),
            resources=[to_resource(self, row) for row in page],
        ).model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=search)  # fmt: skip
        return self.scim_response(payload)


class ScimUserListApi(ScimListMixin, ScimApi):
    """GET /Users (search) and POST /Users (provision a user)."""

    model = ScimUserResource
    attributes = USER_ATTRIBUTES

    def get(self, request):
        return self.list_response(self.query_search(), scim_user_queryset(), _user)

    def post(self, request):
        user = ScimUserResource.model_validate(
            self.body(), scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_policy=IDP_POLICY
        )
        entity = services.scim_user_create(user=user, client=request.auth)
        resource = _user(self, _get_user(entity.id))
        payload = resource.model_dump(
            scim_ctx=Context.RESOURCE_CREATION_RESPONSE,
            response_parameters=self.response_parameters(self.model),
        )
        return self.scim_response(payload, status=201, Location=resource.meta.location)


class ScimUserSearchApi(ScimListMixin, ScimApi):
    """POST /Users/.search."""

    model = ScimUserResource
    attributes = USER_ATTRIBUTES

    def post(self, request):
        return self.list_response(self.body(), scim_user_queryset(), _user)


class ScimUserDetailApi(ScimApi):
    """GET, PUT, PATCH and DELETE /Users/{id}."""

    def answer(self, entity_id: str, context: Context) -> Response:
        payload = _user(self, _get_user(entity_id)).model_dump(
            scim_ctx=context, response_parameters=self.response_parameters(ScimUserResource)
        )
        return self.scim_response(payload)

    def get(self, request, user_id: str):
        _get_user(user_id)
        return self.answer(user_id, Context.RESOURCE_QUERY_RESPONSE)

    def put(self, request, user_id: str):
        entity = _get_user(user_id)
        user = ScimUserResource.model_validate(
            self.body(), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST, scim_policy=IDP_POLICY
        )
        user.replace(_user(self, entity))
        services.scim_user_replace(entity=entity, user=user, client=request.auth)
        return self.answer(user_id, Context.RESOURCE_REPLACEMENT_RESPONSE)

    def patch(self, request, user_id: str):
        entity = _get_user(user_id)
        patch = PatchOp[ScimUserResource].model_validate(
            self.body(), scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=IDP_POLICY
        )
        user = _user(self, entity)
        patch.patch(user, scim_policy=IDP_POLICY)
        services.scim_user_replace(entity=entity, user=user, client=request.auth)
        return self.answer(user_id, Context.RESOURCE_PATCH_RESPONSE)

    def delete(self, request, user_id: str):
        services.scim_user_delete(entity=_get_user(user_id), client=request.auth)
        return Response(status=204)


class ScimGroupListApi(ScimListMixin, ScimApi):
    """GET /Groups (search) and POST /Groups (provision a group and its members)."""

    model = Group
    attributes = GROUP_ATTRIBUTES

    def get(self, request):
        return self.list_response(self.query_search(), scim_group_queryset(), _group)

    def post(self, request):
        group = Group.model_validate(
            self.body(), scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_policy=IDP_POLICY
        )
        row = services.scim_group_create(group=group, client=request.auth)
        resource = _group(self, _get_group(str(row.pk)))
        payload = resource.model_dump(
            scim_ctx=Context.RESOURCE_CREATION_RESPONSE,
            response_parameters=self.response_parameters(Group),
        )
        return self.scim_response(payload, status=201, Location=resource.meta.location)


class ScimGroupSearchApi(ScimListMixin, ScimApi):
    """POST /Groups/.search."""

    model = Group
    attributes = GROUP_ATTRIBUTES

    def post(self, request):
        return self.list_response(self.body(), scim_group_queryset(), _group)


class ScimGroupDetailApi(ScimApi):
    """GET, PUT, PATCH and DELETE /Groups/{id}; membership changes are logged per user."""

    def answer(self, group_id: str, context: Context) -> Response:
        payload = _group(self, _get_group(group_id)).model_dump(
            scim_ctx=context, response_parameters=self.response_parameters(Group)
        )
        return self.scim_response(payload)

    def get(self, request, group_id: str):
        return self.answer(group_id, Context.RESOURCE_QUERY_RESPONSE)

    def put(self, request, group_id: str):
        row = _get_group(group_id)
        group = Group.model_validate(
            self.body(), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST, scim_policy=IDP_POLICY
        )
        group.replace(_group(self, row))
        services.scim_group_replace(row=row, group=group, client=request.auth)
        return self.answer(group_id, Context.RESOURCE_REPLACEMENT_RESPONSE)

    def patch(self, request, group_id: str):
        row = _get_group(group_id)
        patch = PatchOp[Group].model_validate(
            self.body(), scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=IDP_POLICY
        )
        group = _group(self, row)
        patch.patch(group, scim_policy=IDP_POLICY)
        services.scim_group_replace(row=row, group=group, client=request.auth)
        return self.answer(group_id, Context.RESOURCE_PATCH_RESPONSE)

    def delete(self, request, group_id: str):
        services.scim_group_delete(row=_get_group(group_id), client=request.auth)
        return Response(status=204)


def service_provider_config(location: str) -> ServiceProviderConfig:
    """What this service supports (RFC 7643 §5): PATCH and filter yes; bulk, sort, ETags,
    password changes no; OAuth bearer tokens."""
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_COUNT),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="OAuth Bearer Token",
                primary=True,
                description="The SCIM client's token (console: Administration > SCIM clients).",
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=location),
    )


class ScimServiceProviderConfigApi(ScimApi):
    """GET /ServiceProviderConfig."""

    def get(self, request):
        config = service_provider_config(f"{self.base_url()}/ServiceProviderConfig")
        return self.scim_response(config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


def _schemas() -> list[Schema]:
    return [ScimUserResource.to_schema(), Group.to_schema(), EnterpriseUser.to_schema()]


def _resource_types() -> list[ResourceType]:
    return [ResourceType.from_resource(ScimUserResource), ResourceType.from_resource(Group)]


class ScimDiscoveryApi(ScimApi):
    """GET /Schemas and /ResourceTypes, and one of them by id (RFC 7644 §4)."""

    kind = ""

    def items(self) -> list[Any]:
        found = _schemas() if self.kind == "Schemas" else _resource_types()
        for item in found:
            item.meta = Meta(
                resource_type="Schema" if self.kind == "Schemas" else "ResourceType",
                location=f"{self.base_url()}/{self.kind}/{item.id}",
            )
        return found

    def get(self, request, item_id: str | None = None):
        items = self.items()
        if item_id is not None:
            item = next((i for i in items if i.id == item_id), None)
            if item is None:
                raise NotFoundException(detail=f"{self.kind} {item_id} not found")
            return self.scim_response(item.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
        model: Any = Schema if self.kind == "Schemas" else ResourceType
        payload = ListResponse[model](
            total_results=len(items), start_index=1, items_per_page=len(items), resources=items,
        ).model_dump(scim_ctx=Context.SEARCH_RESPONSE)  # fmt: skip
        return self.scim_response(payload)


class ScimRootSearchApi(ScimApi):
    """POST /.search across resource types: not offered (RFC 7644 §3.4.3 makes it optional,
    and §3.12 answers what a provider does not support with 501)."""

    def post(self, request):
        raise NotImplementedException(detail="Search /Users/.search or /Groups/.search instead")


class ScimUnknownEndpointApi(ScimApi):
    """Any other path under /scim/v2/: a SCIM 404 (RFC 7644 §3.12), whatever the method."""

    def dispatch_unknown(self, request, *args, **kwargs):
        raise NotFoundException(detail=f"No SCIM endpoint at {request.path}")

    get = post = put = patch = delete = dispatch_unknown
