"""Input forms of the console; they check shape only, the services check the transmitter."""

import json
from urllib.parse import urlsplit

from django import forms

from common.text import has_unstorable_text
from streams.fetch import allowed_schemes
from streams.models import ConfigMethod, DeliveryMethod, ManagementAuth, TokenAuthMethod
from streams.ssf_client import Credentials
from streams.stream_management import ManagementRequest
from streams.vocabulary import DEFAULT_EVENTS_REQUESTED

METHOD_FIELDS = {
    ConfigMethod.WELL_KNOWN_URL: ("well_known_url",),
    ConfigMethod.ISSUER_AND_JWKS_URL: ("issuer", "jwks_url"),
}
# Optional fields that belong to one method (cleared when the other is chosen).
METHOD_OPTIONAL_FIELDS = {ConfigMethod.WELL_KNOWN_URL: ("expected_issuer",)}


def fetched_url_error(value: str) -> str | None:
    """Why a URL the receiver will fetch (metadata, keys, tokens) is refused before any
    request, as its field's error; None when its form is fine. Syntax first, so "example.com"
    is told it is not a URL rather than that it must use https."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "Enter a valid URL."
    if not parts.scheme or not parts.hostname or any(c.isspace() for c in value):
        return "Enter a valid URL."
    if parts.scheme.lower() not in allowed_schemes():
        return "This URL must use https."
    return None


def _check_fetched_urls(form: forms.Form, names: tuple[str, ...]) -> None:
    for name in names:
        value = (form.cleaned_data.get(name) or "").strip()
        error = fetched_url_error(value) if value else None
        if error:
            form.add_error(name, error)


# The issuer is not in this list: it is an identifier the SETs carry (RFC 7519 §4.1.1
# StringOrURI), never fetched, so neither its syntax nor its scheme is ours to require.
FETCHED_URL_FIELDS = ("well_known_url", "jwks_url")


class StreamForm(forms.Form):
    name = forms.CharField(label="Integration name", max_length=100)
    config_method = forms.ChoiceField(
        label="Configuration method",
        choices=ConfigMethod.choices,
        initial=ConfigMethod.WELL_KNOWN_URL,
        widget=forms.RadioSelect,
    )
    well_known_url = forms.CharField(
        label="Well-known URL",
        max_length=1000,
        required=False,
        help_text="e.g. https://transmitter.example.com/.well-known/ssf-configuration",
    )
    expected_issuer = forms.CharField(
        label="Issuer, if not the Well-known URL's own",
        max_length=700,
        required=False,
        help_text="Only for transmitters whose fixed issuer is on no host they serve (Duo's "
        "example transmitter: https://most-secure.com/). The metadata must name exactly it.",
    )
    issuer = forms.CharField(
        label="Issuer URL",
        max_length=700,
        required=False,
        help_text="The exact iss value the transmitter puts in its SETs.",
    )
    jwks_url = forms.CharField(label="JWKS URL", max_length=1000, required=False)
    strict_claims = forms.BooleanField(
        label="SSF 1.0 strict: refuse SETs that carry sub or exp, or lack typ secevent+jwt",
        required=False,
    )

    def clean(self):
        data = super().clean()
        method = data.get("config_method")
        if method is None:
            return data
        for name in METHOD_FIELDS[ConfigMethod(method)]:
            if not data.get(name, "").strip():
                self.add_error(name, "This field is required for the chosen method.")
        # Only the chosen method's fields reach the service.
        for other in ConfigMethod:
            if other != method:
                for name in (*METHOD_FIELDS[other], *METHOD_OPTIONAL_FIELDS.get(other, ())):
                    data[name] = ""
        _check_fetched_urls(self, FETCHED_URL_FIELDS)
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        names = ("name", "well_known_url", "expected_issuer", "issuer", "jwks_url", "strict_claims")
        return {name: data[name] for name in names}


EVENT_CHOICES = [(uri, uri.rsplit("/event-type/", 1)[-1]) for uri in DEFAULT_EVENTS_REQUESTED]


class ManagedStreamForm(StreamForm):
    """Add stream, with the option to create the stream at the transmitter (SSF §8.1.1)."""

    create_at_transmitter = forms.BooleanField(
        label="Create the stream at the transmitter (SSF stream management)", required=False
    )
    delivery_method = forms.ChoiceField(
        choices=DeliveryMethod.choices,
        initial=DeliveryMethod.PUSH,
        required=False,
        widget=forms.RadioSelect,
    )
    events_requested = forms.MultipleChoiceField(
        choices=EVENT_CHOICES,
        initial=DEFAULT_EVENTS_REQUESTED,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    auth_method = forms.ChoiceField(
        label="Management credential", choices=ManagementAuth.choices,
        initial=ManagementAuth.STATIC_TOKEN, required=False, widget=forms.RadioSelect,
    )  # fmt: skip
    management_token = forms.CharField(
        label="Bearer token", required=False, widget=forms.PasswordInput()
    )
    token_url = forms.CharField(label="Token endpoint", max_length=1000, required=False)
    client_id = forms.CharField(max_length=255, required=False)
    client_secret = forms.CharField(required=False, widget=forms.PasswordInput())
    scope = forms.CharField(max_length=255, initial="ssf.read ssf.manage", required=False)
    token_auth_method = forms.ChoiceField(
        label="Client authentication at the token endpoint",
        choices=TokenAuthMethod.choices,
        initial=TokenAuthMethod.CLIENT_SECRET_BASIC,
        required=False,
        widget=forms.RadioSelect,
    )

    def clean(self):
        data = super().clean()
        if not data.get("create_at_transmitter"):
            return data
        data["auth_method"] = data.get("auth_method") or ManagementAuth.STATIC_TOKEN
        if data.get("config_method") != ConfigMethod.WELL_KNOWN_URL:
            self.add_error("create_at_transmitter", "Stream management needs a Well-known URL.")
        if data.get("auth_method") == ManagementAuth.CLIENT_CREDENTIALS:
            required = ("token_url", "client_id", "client_secret")
        else:
            required = ("management_token",)
        for name in required:
            if not data.get(name):
                self.add_error(name, "This field is required for the chosen credential.")
        if not data.get("events_requested"):
            self.add_error("events_requested", "Request at least one event type.")
        if not data.get("delivery_method"):
            self.add_error("delivery_method", "Choose push or poll.")
        if data.get("auth_method") == ManagementAuth.CLIENT_CREDENTIALS:
            _check_fetched_urls(self, ("token_url",))
        return data

    def service_kwargs(self) -> dict:
        kwargs = super().service_kwargs()
        data = self.cleaned_data
        if data.get("create_at_transmitter"):
            kwargs["management"] = ManagementRequest(
                delivery_method=data["delivery_method"],
                events_requested=list(data["events_requested"]),
                credentials=Credentials(
                    auth_method=data["auth_method"],
                    token=data.get("management_token", ""),
                    token_url=data.get("token_url", "").strip(),
                    client_id=data.get("client_id", "").strip(),
                    client_secret=data.get("client_secret", ""),
                    scope=data.get("scope") or "ssf.read ssf.manage",
                    token_auth_method=data.get("token_auth_method")
                    or TokenAuthMethod.CLIENT_SECRET_BASIC,
                ),
            )
        return kwargs


class ManagedStreamEditForm(StreamForm):
    """Edit a stream we manage: our side, and what we request of the transmitter."""

    events_requested = forms.MultipleChoiceField(
        choices=EVENT_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    replace_at_transmitter = forms.BooleanField(
        label="Replace the whole stream configuration at the transmitter (PUT) instead of "
        "updating the events requested (PATCH)",
        required=False,
    )


class SubjectForm(forms.Form):
    """A subject to add at the transmitter: an email, or any RFC 9493 identifier as JSON."""

    email = forms.EmailField(required=False)
    identifier = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text='e.g. {"format": "iss_sub", "iss": "https://idp.example", "sub": "123"}',
    )  # fmt: skip

    def clean(self):
        data = super().clean()
        if data.get("email"):
            data["subject"] = {"format": "email", "email": data["email"]}
        elif data.get("identifier"):
            try:
                subject = json.loads(data["identifier"])
            except (ValueError, RecursionError) as exc:
                raise forms.ValidationError("The identifier is not JSON.") from exc
            if not isinstance(subject, dict) or not subject.get("format"):
                raise forms.ValidationError("A subject identifier is an object with a format.")
            if has_unstorable_text(subject):
                raise forms.ValidationError("The identifier holds a NUL or a lone surrogate.")
            data["subject"] = subject
        else:
            raise forms.ValidationError("Give an email or an identifier.")
        return data
