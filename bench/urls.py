"""The app's URLs plus `bench/bare`, the DRF floor the push endpoint is compared with."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as app_urlpatterns

# Lets the load generator tell the bare view's answers from the push endpoint's.
BARE_HEADER = "X-Bench-Bare"


class BareAcceptApi(APIView):
    """The DRF floor: no authentication, no parsing, no work; an empty 202."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def post(self, request):
        return Response(status=202, headers={BARE_HEADER: "1"})


urlpatterns = [path("bench/bare", BareAcceptApi.as_view(), name="bench_bare"), *app_urlpatterns]
