"""/scim/v2/: the SCIM service provider's endpoints (RFC 7644 §3.2)."""

from django.urls import path

from scim import api

app_name = "scim_api"

urlpatterns = [
    path("Users", api.ScimUserListApi.as_view(), name="user_list"),
    path("Users/.search", api.ScimUserSearchApi.as_view(), name="user_search"),
    path("Users/<str:user_id>", api.ScimUserDetailApi.as_view(), name="user_detail"),
    path("Groups", api.ScimGroupListApi.as_view(), name="group_list"),
    path("Groups/.search", api.ScimGroupSearchApi.as_view(), name="group_search"),
    path("Groups/<str:group_id>", api.ScimGroupDetailApi.as_view(), name="group_detail"),
    path(
        "ServiceProviderConfig",
        api.ScimServiceProviderConfigApi.as_view(),
        name="service_provider_config",
    ),
    path("Schemas", api.ScimDiscoveryApi.as_view(kind="Schemas"), name="schema_list"),
    path(
        "Schemas/<str:item_id>", api.ScimDiscoveryApi.as_view(kind="Schemas"), name="schema_detail"
    ),
    path(
        "ResourceTypes",
        api.ScimDiscoveryApi.as_view(kind="ResourceTypes"),
        name="resource_type_list",
    ),
    path(
        "ResourceTypes/<str:item_id>",
        api.ScimDiscoveryApi.as_view(kind="ResourceTypes"),
        name="resource_type_detail",
    ),
    path(".search", api.ScimRootSearchApi.as_view(), name="root_search"),
    path("<path:rest>", api.ScimUnknownEndpointApi.as_view(), name="unknown"),
]
