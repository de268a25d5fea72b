"""Okta's Users and User Risk APIs over the directory (the console's people, same services).

GET/POST /api/v1/users (list with search, filter, q, sortBy; create, STAGED with
activate=false), GET/POST/PUT/DELETE /api/v1/users/{id} (read by id or login, partial and full
profile update, Okta's two-step delete), POST .../lifecycle/activate and .../deactivate, and
GET/PUT /api/v1/users/{id}/risk (HIGH or LOW by hand: ADMIN_REPORTED_USER_RISK, logged with the
admin as actor, then the entity risk policy runs).
"""

from dataclasses import replace
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.response import Response

from common.api.errors import OktaApiError, error_responses, not_found
from common.api.views import ManagementApi, link_header
from common.text import has_unstorable_text
from risk.api.scim_filter import (
    ALL,
    DATETIME_VALUE,
    EQUALITY,
    ORDERED,
    FilterError,
    FilterField,
    invalid_search,
    parse_filter,
)
from risk.models import Entity, RiskLevel, UserStatus
from risk.selectors import BadCursor, user_get, user_page
from risk.services.directory import (
    UserLifecycleError,
    entity_create,
    user_activate,
    user_deactivate,
    user_delete,
    user_update,
)
from risk.services.entity_risk import entity_risk_set

TAG = "Users"
# Okta's page sizes for /api/v1/users: 200 at most and by default, 10 by default with `q`.
DEFAULT_LIMIT = MAX_LIMIT = 200
Q_DEFAULT_LIMIT = 10
# What an admin may set by hand (Okta's UserRiskRequest); the policy may set any level.
MANUAL_RISK_LEVELS = [(RiskLevel.HIGH, "High"), (RiskLevel.LOW, "Low")]
# Okta's text for a login another user has (E0000001's cause).
LOGIN_TAKEN = "An object with this field already exists in the current organization"


def _column(name: str, operators: frozenset[str] = ALL, value: str = "text") -> FilterField:
    return FilterField(((name,),), operators, value)


# `filter` (case-sensitive, as Okta's) and `search` (case-insensitive values, as Okta's) over
# the same attributes: Okta's top-level properties and profile, plus our riskLevel.
USER_FILTER_FIELDS = {
    "id": _column("id", EQUALITY),
    "status": _column("status", ORDERED),
    "created": _column("created_at", ORDERED, DATETIME_VALUE),
    "activated": _column("activated_at", ORDERED, DATETIME_VALUE),
    "statusChanged": _column("status_changed_at", ORDERED, DATETIME_VALUE),
    "lastUpdated": _column("updated_at", ORDERED, DATETIME_VALUE),
    "profile.login": _column("login"),
    "profile.email": _column("email"),
    "profile.firstName": _column("first_name"),
    "profile.lastName": _column("last_name"),
    "profile.displayName": _column("display_name"),
    "riskLevel": _column("risk_level", EQUALITY),
}
USER_SEARCH_FIELDS = {
    name: replace(field, case_insensitive=field.value != DATETIME_VALUE)
    for name, field in USER_FILTER_FIELDS.items()
}
# sortBy: Okta's names for the columns users can be ordered by.
USER_SORTS = {
    "id": "id",
    "status": "status",
    "created": "created_at",
    "lastUpdated": "updated_at",
    "profile.login": "login",
    "profile.email": "email",
    "profile.firstName": "first_name",
    "profile.lastName": "last_name",
}
# Okta profile attribute -> Entity field.
PROFILE_ATTRIBUTES = {
    "login": "login",
    "email": "email",
    "firstName": "first_name",
    "lastName": "last_name",
    "displayName": "display_name",
}


class UserQueryInput(serializers.Serializer):
    search = serializers.CharField(
        required=False,
        help_text='Okta\'s search expression, e.g. profile.lastName sw "Sm" and status eq '
        f'"ACTIVE" (values case-insensitive); attributes: {", ".join(USER_FILTER_FIELDS)}; '
        "operators eq, ne, sw, co, pr, gt, ge, lt, le; and, or, not, ().",
    )
    filter = serializers.CharField(
        required=False,
        help_text='As search, case-sensitive, e.g. status eq "ACTIVE" or riskLevel eq "HIGH".',
    )
    q = serializers.CharField(
        required=False,
        max_length=100,
        help_text="Users whose firstName, lastName or email starts with this (not deactivated).",
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)
    after = serializers.CharField(
        required=False, max_length=500, help_text="The cursor from a `next` link."
    )
    sortBy = serializers.ChoiceField(choices=list(USER_SORTS), required=False)
    sortOrder = serializers.ChoiceField(choices=["asc", "desc"], required=False)


class UserCreateQueryInput(serializers.Serializer):
    activate = serializers.BooleanField(
        required=False, default=True, help_text="false creates the user STAGED."
    )


class StrictText(serializers.CharField):
    """A string, as the schema says: DRF's CharField would store 12 or 0.5 as "12" and "0.5"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def _text(max_length: int, min_length: int = 1, **kwargs: Any) -> serializers.CharField:
    # Okta's own words for a missing value.
    blank = "The field cannot be left blank"
    return StrictText(
        max_length=max_length,
        min_length=min_length,
        error_messages={"required": blank, "blank": blank, "null": blank},
        **kwargs,
    )


class ProfileInput(serializers.Serializer):
    """Okta's user profile, with its base schema's bounds (firstName and lastName nullable)."""

    login = _text(100, min_length=5)
    email = serializers.EmailField(
        max_length=100,
        min_length=5,
        error_messages={
            "required": "The field cannot be left blank",
            "blank": "The field cannot be left blank",
            "invalid": "Does not match required pattern",
        },
    )
    firstName = _text(50, required=False, allow_null=True)
    lastName = _text(50, required=False, allow_null=True)
    displayName = _text(255, required=False, allow_null=True)


class UserInput(serializers.Serializer):
    """Okta's CreateUserRequest / UpdateUserRequest; credentials, groupIds and type are accepted
    and not kept (this directory has no passwords or Okta groups)."""

    profile = ProfileInput()
    credentials = serializers.DictField(required=False)
    groupIds = serializers.ListField(child=serializers.CharField(), required=False)
    type = serializers.DictField(required=False)


class ProfileOutput(serializers.Serializer):
    """Okta's profile: an empty attribute is null (Okta's schema has minLength on them)."""

    login = serializers.CharField()
    email = serializers.CharField(allow_null=True)
    firstName = serializers.CharField(source="first_name", allow_null=True)
    lastName = serializers.CharField(source="last_name", allow_null=True)
    displayName = serializers.CharField(source="display_name", allow_null=True)

    def to_representation(self, instance: Entity) -> dict:
        return {k: v or None for k, v in super().to_representation(instance).items()}


class HrefOutput(serializers.Serializer):
    href = serializers.URLField()


class MethodHrefOutput(HrefOutput):
    method = serializers.CharField()


class UserLinksOutput(serializers.Serializer):
    """`self`, `risk` (ours), and the lifecycle step the status allows."""

    self = HrefOutput()
    risk = HrefOutput()
    activate = MethodHrefOutput(required=False)
    deactivate = MethodHrefOutput(required=False)


class UserRiskLinksOutput(serializers.Serializer):
    self = HrefOutput()
    user = HrefOutput()


def _href(request, name: str, user_id: str) -> dict[str, str]:
    return {"href": request.build_absolute_uri(reverse(name, args=[user_id]))}


class UserOutput(serializers.Serializer):
    """Okta's User (no credentials: this directory has no passwords) plus its entity risk."""

    id = serializers.CharField()
    status = serializers.ChoiceField(choices=UserStatus.choices)
    created = serializers.DateTimeField(source="created_at")
    activated = serializers.DateTimeField(source="activated_at", allow_null=True)
    statusChanged = serializers.DateTimeField(source="status_changed_at", allow_null=True)
    lastLogin = serializers.SerializerMethodField()
    lastUpdated = serializers.DateTimeField(source="updated_at")
    passwordChanged = serializers.SerializerMethodField()
    profile = ProfileOutput(source="*")
    riskLevel = serializers.ChoiceField(source="risk_level", choices=RiskLevel.choices)
    _links = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_lastLogin(self, entity: Entity) -> None:
        return None  # nobody signs in to this directory

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_passwordChanged(self, entity: Entity) -> None:
        return None

    @extend_schema_field(UserLinksOutput)
    def get__links(self, entity: Entity) -> dict:
        request = self.context["request"]
        links: dict[str, Any] = {
            "self": _href(request, "api:user_detail", entity.pk),
            "risk": _href(request, "api:user_risk", entity.pk),
        }
        step = "deactivate" if entity.status == UserStatus.ACTIVE else "activate"
        links[step] = {**_href(request, f"api:user_{step}", entity.pk), "method": "POST"}
        return links


class UserRiskOutput(serializers.Serializer):
    """Okta's user risk: `reason` only when there is a risk (as Okta's NONE has none)."""

    riskLevel = serializers.ChoiceField(source="risk_level", choices=RiskLevel.choices)
    reason = serializers.CharField(source="risk_reason", required=False)
    _links = serializers.SerializerMethodField()

    @extend_schema_field(UserRiskLinksOutput)
    def get__links(self, entity: Entity) -> dict:
        request = self.context["request"]
        return {
            "self": _href(request, "api:user_risk", entity.pk),
            "user": _href(request, "api:user_detail", entity.pk),
        }

    def to_representation(self, instance: Entity) -> dict:
        data = super().to_representation(instance)
        if instance.risk_level == RiskLevel.NONE:
            del data["reason"]
        return data


class UserRiskInput(serializers.Serializer):
    """Okta's UserRiskRequest; `reason` is ours (default: who set it)."""

    riskLevel = serializers.ChoiceField(choices=MANUAL_RISK_LEVELS)
    reason = serializers.CharField(required=False, max_length=500)


def _get_user(user_id: str) -> Entity:
    """The user named by id or login in the path, or Okta's 404."""
    user = None
    if len(user_id) <= 255 and not has_unstorable_text(user_id):
        user = user_get(user_id=user_id)
    if user is None:
        raise not_found(resource="User", resource_id=user_id)
    return user


def _output(request, user: Entity) -> Response:
    return Response(UserOutput(user, context={"request": request}).data)


def _profile(request, *, partial: bool) -> dict[str, str]:
    """The request body's profile in Entity field names; Okta's 400 (causes named by profile
    attribute, `login: ...`) when it is not valid."""
    body = UserInput(data=request.data, partial=partial)
    if not body.is_valid():
        errors = body.errors
        profile_errors = errors.get("profile")
        raise serializers.ValidationError(
            profile_errors if isinstance(profile_errors, dict) else errors
        )
    given = body.validated_data.get("profile", {})
    return {PROFILE_ATTRIBUTES[name]: value or "" for name, value in given.items()}


def _saved(save) -> Entity:
    """Run a directory write; its refusal becomes Okta's 400 with the attribute named."""
    try:
        return save()
    except DjangoValidationError as exc:
        detail = getattr(exc, "error_dict", None)
        if detail is None:
            raise serializers.ValidationError(exc.messages) from exc
        attributes = {field: key for key, field in PROFILE_ATTRIBUTES.items()}
        causes = {
            attributes.get(name, name): [LOGIN_TAKEN] if name == "login" else messages
            for name, messages in exc.message_dict.items()
        }
        raise serializers.ValidationError(causes) from exc


def _search_query(params: dict[str, Any]) -> Q:
    """search, filter and q together (each one that is given must match)."""
    where = Q()
    try:
        if "search" in params:
            where &= parse_filter(params["search"], fields=USER_SEARCH_FIELDS)
        if "filter" in params:
            where &= parse_filter(params["filter"], fields=USER_FILTER_FIELDS)
    except FilterError as exc:
        raise invalid_search(exc) from exc
    if "q" in params:
        q = params["q"]
        where &= (
            Q(first_name__istartswith=q) | Q(last_name__istartswith=q) | Q(email__istartswith=q)
        )
    if "q" in params or not ({"search", "filter"} & set(params)):
        # As Okta: deactivated users only come back through a search or a filter.
        where &= ~Q(status=UserStatus.DEPROVISIONED)
    return where


@extend_schema(tags=[TAG])
class UserListApi(ManagementApi):
    """List users (search, filter, q; ordered by id or sortBy; `after`-paginated with `Link`
    headers), or create one."""

    @extend_schema(
        operation_id="listUsers",
        parameters=[UserQueryInput],
        responses={
            200: OpenApiResponse(UserOutput(many=True), description="`Link` has self and next."),
            **error_responses(400),
        },
    )
    def get(self, request):
        # A plain dict: DRF reads a QueryDict as a form, where `filter=` would mean "absent".
        query = UserQueryInput(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        where = _search_query(params)
        limit = params.get("limit", Q_DEFAULT_LIMIT if "q" in params else DEFAULT_LIMIT)
        try:
            users, next_after = user_page(
                where=where,
                sort=USER_SORTS[params.get("sortBy", "id")],
                descending=params.get("sortOrder") == "desc",
                after=params.get("after", ""),
                limit=limit,
            )
        except BadCursor as exc:
            raise serializers.ValidationError({"after": [str(exc)]}) from exc
        response = Response(UserOutput(users, many=True, context={"request": request}).data)
        response["Link"] = link_header(request, after=next_after, limit=limit)
        return response

    @extend_schema(
        operation_id="createUser",
        parameters=[UserCreateQueryInput],
        request=UserInput,
        responses={200: UserOutput, **error_responses(400)},
    )
    def post(self, request):
        query = UserCreateQueryInput(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        profile = _profile(request, partial=False)
        status = UserStatus.ACTIVE if query.validated_data["activate"] else UserStatus.STAGED
        user = _saved(lambda: entity_create(**profile, status=status, actor=request.user))
        return _output(request, user)


USER_ID = OpenApiParameter("user_id", str, OpenApiParameter.PATH, description="An id or login.")


@extend_schema(tags=[TAG], parameters=[USER_ID])
class UserDetailApi(ManagementApi):
    """One user: read, update the profile (POST partial, PUT whole), delete (Okta's two steps:
    the first DELETE of a user not yet deactivated deactivates it, the next one deletes it)."""

    @extend_schema(operation_id="getUser", responses={200: UserOutput, **error_responses(404)})
    def get(self, request, user_id: str):
        return _output(request, _get_user(user_id))

    @extend_schema(
        operation_id="updateUser",
        request=UserInput,
        responses={200: UserOutput, **error_responses(400, 404)},
    )
    def post(self, request, user_id: str):
        user = _get_user(user_id)
        profile = _profile(request, partial=True)
        return _output(request, _saved(lambda: user_update(user=user, profile=profile,
                                                           actor=request.user)))  # fmt: skip

    @extend_schema(
        operation_id="replaceUser",
        request=UserInput,
        responses={200: UserOutput, **error_responses(400, 404)},
    )
    def put(self, request, user_id: str):
        user = _get_user(user_id)
        # A replace: every attribute the body leaves out is cleared (login and email required).
        profile = dict.fromkeys(PROFILE_ATTRIBUTES.values(), "") | _profile(request, partial=False)
        return _output(request, _saved(lambda: user_update(user=user, profile=profile,
                                                           actor=request.user)))  # fmt: skip

    @extend_schema(operation_id="deleteUser", responses={204: None, **error_responses(404)})
    def delete(self, request, user_id: str):
        user_delete(user=_get_user(user_id), actor=request.user)
        return Response(status=204)


class UserActivationOutput(serializers.Serializer):
    """Okta's UserActivationToken; empty here (no activation email or token to hand out)."""

    activationUrl = serializers.URLField(required=False)
    activationToken = serializers.CharField(required=False)


@extend_schema(tags=[TAG], parameters=[USER_ID])
class UserActivateApi(ManagementApi):
    """STAGED or DEPROVISIONED -> ACTIVE; an ACTIVE user is Okta's 403 E0000016."""

    @extend_schema(
        operation_id="activateUser",
        request=None,
        parameters=[OpenApiParameter("sendEmail", bool, description="Accepted; no email is sent.")],
        responses={200: UserActivationOutput, **error_responses(404)},
    )
    def post(self, request, user_id: str):
        try:
            user_activate(user=_get_user(user_id), actor=request.user)
        except UserLifecycleError as exc:
            raise OktaApiError(status=403, code="E0000016", summary=str(exc)) from exc
        return Response({})


@extend_schema(tags=[TAG], parameters=[USER_ID])
class UserDeactivateApi(ManagementApi):
    """-> DEPROVISIONED (risk and history stay); a deactivated user stays so."""

    @extend_schema(
        operation_id="deactivateUser",
        request=None,
        responses={200: OpenApiResponse(description="An empty object."), **error_responses(404)},
    )
    def post(self, request, user_id: str):
        user_deactivate(user=_get_user(user_id), actor=request.user)
        return Response({})


@extend_schema(tags=["User Risk"], parameters=[USER_ID])
class UserRiskApi(ManagementApi):
    """A user's entity risk; PUT sets HIGH or LOW by hand (the admin is the logged actor)."""

    @extend_schema(
        operation_id="getUserRisk", responses={200: UserRiskOutput, **error_responses(404)}
    )
    def get(self, request, user_id: str):
        return Response(UserRiskOutput(_get_user(user_id), context={"request": request}).data)

    @extend_schema(
        operation_id="upsertUserRisk",
        request=UserRiskInput,
        responses={200: UserRiskOutput, **error_responses(400, 404)},
    )
    def put(self, request, user_id: str):
        user = _get_user(user_id)
        body = UserRiskInput(data=request.data)
        body.is_valid(raise_exception=True)
        entity_risk_set(
            entity=user,
            level=RiskLevel(body.validated_data["riskLevel"]),
            actor=request.user,
            reason=body.validated_data.get("reason", ""),
        )
        return Response(UserRiskOutput(user, context={"request": request}).data)
