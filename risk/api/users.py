"""Users and their entity risk, as Okta's Users and User Risk APIs show them.

GET /api/v1/users (filterable, `riskLevel eq "HIGH"` included), GET /api/v1/users/{id}/risk,
and PUT /api/v1/users/{id}/risk to set HIGH or LOW by hand (ADMIN_REPORTED_USER_RISK: logged
as a user.risk.change with the admin as actor, then the entity risk policy runs).
"""

from django.db.models import Q
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from common.api.errors import error_responses, not_found
from common.api.views import ManagementApi, link_header
from common.ids import is_okta_style_id
from risk.api.scim_filter import TEXT, FilterError, FilterField, invalid_search, parse_filter
from risk.models import Entity, RiskLevel
from risk.selectors import user_get, user_page
from risk.services.entity_risk import entity_risk_set

TAG = "Users"
# Okta's page size bounds for /api/v1/users.
DEFAULT_LIMIT = MAX_LIMIT = 200
# What an admin may set by hand (Okta's UserRiskRequest); the policy may set any level.
MANUAL_RISK_LEVELS = [(RiskLevel.HIGH, "High"), (RiskLevel.LOW, "Low")]
USER_FILTER_FIELDS = {
    "id": FilterField(("id",)),
    "riskLevel": FilterField(("risk_level",)),
    "profile.login": FilterField(("login",), TEXT),
    "profile.email": FilterField(("email",), TEXT),
}


class UserQueryInput(serializers.Serializer):
    filter = serializers.CharField(
        required=False,
        help_text='SCIM subset, e.g. riskLevel eq "HIGH"; attributes: '
        f"{', '.join(USER_FILTER_FIELDS)}; operators eq, ne (sw, co on profile.*); and, or, ().",
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)
    after = serializers.CharField(
        required=False, max_length=64, help_text="The cursor from a `next` link."
    )


class ProfileOutput(serializers.Serializer):
    login = serializers.CharField()
    email = serializers.CharField()
    firstName = serializers.CharField(source="first_name")
    lastName = serializers.CharField(source="last_name")
    displayName = serializers.CharField(source="label")


class HrefOutput(serializers.Serializer):
    href = serializers.URLField()


class UserLinksOutput(serializers.Serializer):
    self = HrefOutput()
    risk = HrefOutput()


class UserRiskLinksOutput(serializers.Serializer):
    self = HrefOutput()
    user = HrefOutput()


def _href(request, name: str, user_id: str) -> dict[str, str]:
    return {"href": request.build_absolute_uri(reverse(name, args=[user_id]))}


class UserOutput(serializers.Serializer):
    """Okta's User (id, created, profile, _links) plus its entity risk level."""

    id = serializers.CharField()
    created = serializers.DateTimeField(source="created_at")
    profile = ProfileOutput(source="*")
    riskLevel = serializers.ChoiceField(source="risk_level", choices=RiskLevel.choices)
    _links = serializers.SerializerMethodField()

    @extend_schema_field(UserLinksOutput)
    def get__links(self, entity: Entity) -> dict:
        request = self.context["request"]
        return {
            "self": _href(request, "api:user_detail", entity.pk),
            "risk": _href(request, "api:user_risk", entity.pk),
        }


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
    user = user_get(user_id=user_id) if is_okta_style_id(user_id) else None
    if user is None:
        raise not_found(resource="User", resource_id=user_id)
    return user


@extend_schema(tags=[TAG])
class UserListApi(ManagementApi):
    """Users by id, filterable (e.g. by risk level), `after`-paginated with `Link` headers."""

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
        where = Q()
        if "filter" in params:
            try:
                where = parse_filter(params["filter"], fields=USER_FILTER_FIELDS)
            except FilterError as exc:
                raise invalid_search(exc) from exc
        users, next_after = user_page(
            where=where, after=params.get("after", ""), limit=params.get("limit", DEFAULT_LIMIT)
        )
        response = Response(UserOutput(users, many=True, context={"request": request}).data)
        response["Link"] = link_header(request, after=next_after)
        return response


@extend_schema(tags=[TAG])
class UserDetailApi(ManagementApi):
    """One user."""

    @extend_schema(operation_id="getUser", responses={200: UserOutput, **error_responses(404)})
    def get(self, request, user_id: str):
        return Response(UserOutput(_get_user(user_id), context={"request": request}).data)


@extend_schema(tags=["User Risk"])
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
