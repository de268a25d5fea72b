"""Forms of the risk pages: filters kept in the URL, and the inputs of the policy and directory."""

import re
from datetime import UTC, datetime

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from risk.mapping import RULES
from risk.models import (
    ActionKind,
    AppSelection,
    ConnectedApp,
    DetectionKind,
    DirectoryGroup,
    EntityKind,
    LevelCondition,
    MappingOverride,
    OutcomeResult,
    RiskLevel,
    RiskSource,
    Workflow,
)
from risk.selectors import log_keyword_query
from risk.services.system_log import EVENT_TYPES
from streams.models import Stream
from streams.vocabulary import CAEP, OKTA, RISC

RANGE_CHOICES = [("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days"),
                 ("all", "All time")]  # fmt: skip


def _event_type_choices():
    return [("", "Any event type"), *sorted(((uri, uri) for uri in RULES), key=lambda c: c[1])]


def _stream_choices():
    return [("", "Any stream"), *list(Stream.objects.order_by("name").values_list("pk", "name"))]


class EntitySearchForm(forms.Form):
    """The directory's search box; a form so that junk (a NUL byte) never reaches the query."""

    q = forms.CharField(required=False, max_length=100, label="Search")


def _storable_time(value: datetime | None) -> datetime | None:
    """A time the database can compare: at UTC it must still fall in years 1-9999 (SQLite's
    adapter converts to UTC and would fail on `0001-01-01T00:00:00+23:00`)."""
    try:
        return value.astimezone(UTC) if value else value
    except OverflowError as exc:
        raise forms.ValidationError("Enter a time between the years 1 and 9999 (UTC).") from exc


class TimeRangeForm(forms.Form):
    """`since` and `until` (UTC, as a datetime-local input sends them), each storable."""

    since = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def clean_since(self):
        return _storable_time(self.cleaned_data["since"])

    def clean_until(self):
        return _storable_time(self.cleaned_data["until"])


class ReportFilterForm(TimeRangeForm):
    # A chart's brush writes since/until; they come last and override `range`.
    field_order = ["level", "range", "stream", "kind", "event_type", "entity_kind", "action", "q"]

    level = forms.ChoiceField(required=False, choices=[("", "Any risk"), *RiskLevel.choices[1:]])
    range = forms.ChoiceField(required=False, choices=RANGE_CHOICES, initial="7d")
    stream = forms.ChoiceField(required=False, label="Source")
    kind = forms.ChoiceField(
        required=False, label="Detection", choices=[("", "Any detection"), *DetectionKind.choices]
    )
    event_type = forms.ChoiceField(required=False)
    entity_kind = forms.ChoiceField(
        required=False, label="Entity", choices=[("", "Users and devices"), *EntityKind.choices]
    )
    action = forms.ChoiceField(
        required=False, label="Rule action", choices=[("", "Any action"), *ActionKind.choices]
    )
    q = forms.CharField(required=False, label="User", max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stream"].choices = _stream_choices()
        self.fields["event_type"].choices = _event_type_choices()


class SystemLogFilterForm(TimeRangeForm):
    field_order = ["event_type", "since", "until"]

    event_type = forms.ChoiceField(
        required=False, choices=[("", "Any event type")] + [(t, t) for t in EVENT_TYPES]
    )
    entity = forms.CharField(
        required=False, max_length=255, label="Entity", help_text="An id, login or email."
    )
    stream = forms.ChoiceField(required=False)
    outcome = forms.ChoiceField(
        required=False, choices=[("", "Any outcome"), *OutcomeResult.choices]
    )
    q = forms.CharField(
        required=False, max_length=440, label="Search", help_text="Every word must appear."
    )
    # The records of one SET's processing (linked from the SET's page).
    trace = forms.CharField(required=False, max_length=64, label="Trace id")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stream"].choices = _stream_choices()

    def clean_q(self):
        """The API's `q` rules (risk.selectors.log_keyword_query), as a form error."""
        q = self.cleaned_data["q"]
        try:
            log_keyword_query(q)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return q


class EntityForm(forms.Form):
    kind = forms.ChoiceField(choices=EntityKind.choices, initial=EntityKind.USER)
    login = forms.CharField(required=False, max_length=255)
    email = forms.EmailField(required=False, max_length=255)
    first_name = forms.CharField(required=False, max_length=100)
    last_name = forms.CharField(required=False, max_length=100)
    display_name = forms.CharField(required=False, max_length=255, help_text="For devices.")
    groups = forms.CharField(required=False, help_text="Comma-separated group names.")
    iss = forms.CharField(required=False, label="External issuer (iss)", max_length=700)
    sub = forms.CharField(required=False, label="External subject (sub)", max_length=255)
    opaque_id = forms.CharField(
        required=False, label="Opaque id", max_length=255, help_text="e.g. a device id"
    )

    def clean(self):
        data = super().clean()
        if bool(data.get("iss")) != bool(data.get("sub")):
            raise forms.ValidationError("Give both the external issuer and subject, or neither.")
        if not any(data.get(n) for n in ("login", "email", "display_name", "sub", "opaque_id")):
            raise forms.ValidationError("Give at least a login, an email or an identifier.")
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        identifiers = []
        if data["iss"]:
            identifiers.append({"format": "iss_sub", "iss": data["iss"], "sub": data["sub"]})
        if data["opaque_id"]:
            identifiers.append({"format": "opaque", "id": data["opaque_id"]})
        return {
            "kind": data["kind"],
            "login": data["login"],
            "email": data["email"],
            "first_name": data["first_name"],
            "last_name": data["last_name"],
            "display_name": data["display_name"],
            "groups": [g.strip() for g in data["groups"].split(",") if g.strip()],
            "identifiers": identifiers,
        }


class CsvImportForm(forms.Form):
    file = forms.FileField(help_text="Columns: login,email,first_name,last_name,groups,iss,sub")

    MAX_BYTES = 5 * 1024 * 1024

    def clean_file(self) -> str:
        """The file's text: UTF-8 (a BOM is fine), at most MAX_BYTES."""
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {self.MAX_BYTES} bytes.")
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not UTF-8 text.") from exc


class RiskSetForm(forms.Form):
    """An admin's level (no default: the admin chooses it) and why."""

    level = forms.ChoiceField(
        choices=[("", "Choose a level"), (RiskLevel.HIGH, "High"), (RiskLevel.MEDIUM, "Medium"),
                 (RiskLevel.LOW, "Low (dismisses the other detections)")],
    )  # fmt: skip
    reason = forms.CharField(required=False, max_length=300)


class DismissForm(forms.Form):
    """Why an admin dismisses a detection, or resets an entity (required: it is logged)."""

    reason = forms.CharField(max_length=300)


class PolicyRuleForm(forms.Form):
    name = forms.CharField(max_length=100)
    priority = forms.IntegerField(
        min_value=1, max_value=1_000_000, required=False, help_text="1 is tried first."
    )
    active = forms.BooleanField(required=False, initial=True)
    risk_level = forms.ChoiceField(choices=LevelCondition.choices, label="Entity risk level")
    detection_types = forms.MultipleChoiceField(
        required=False, choices=RiskSource.choices, widget=forms.CheckboxSelectMultiple,
        help_text="None checked: any detection.",
    )  # fmt: skip
    # Checkbox lists, not <select multiple>: choosing several needs no ctrl-click.
    source_streams = forms.ModelMultipleChoiceField(
        queryset=Stream.objects.order_by("name"), required=False, help_text="None: any stream.",
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    groups_include = forms.ModelMultipleChoiceField(
        queryset=DirectoryGroup.objects.order_by("name"), required=False,
        widget=forms.CheckboxSelectMultiple, help_text="None: everyone.",
    )  # fmt: skip
    groups_exclude = forms.ModelMultipleChoiceField(
        queryset=DirectoryGroup.objects.order_by("name"), required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    terminate_sessions = forms.BooleanField(required=False, label="Logout and revoke tokens")
    app_selection = forms.ChoiceField(
        choices=AppSelection.choices, initial=AppSelection.ALL, label="Apps to log out of"
    )
    apps = forms.ModelMultipleChoiceField(
        queryset=ConnectedApp.objects.order_by("name"), required=False, label="Specified apps",
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    workflow = forms.ModelChoiceField(
        queryset=Workflow.objects.filter(active=True), required=False, label="Run workflow"
    )

    def clean(self):
        """The apps count only for a Logout to specified apps: a Logout to specified apps needs
        one; otherwise a ticked app (from a hidden list) is dropped, not stored unseen."""
        data = super().clean()
        specified = data.get("terminate_sessions") and (
            data.get("app_selection") == AppSelection.SPECIFIED
        )
        if not specified:
            data["apps"] = []
        elif not data.get("apps"):
            self.add_error("apps", "Choose the apps to log out of, or choose All connected apps.")
        return data


class ConnectedAppForm(forms.Form):
    name = forms.CharField(max_length=100)
    revocation_endpoint = forms.CharField(
        max_length=1000, help_text="The app's global token revocation endpoint (https)."
    )
    token = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text="Bearer token; stored encrypted."
    )
    active = forms.BooleanField(required=False, initial=True)


class WorkflowForm(forms.Form):
    name = forms.CharField(max_length=100)
    url = forms.CharField(
        max_length=1000, label="Webhook URL", help_text="Stored encrypted; shown as its origin."
    )


class WorkflowEditForm(forms.Form):
    name = forms.CharField(max_length=100)
    url = forms.CharField(
        max_length=1000, required=False, label="New webhook URL",
        help_text="Leave empty to keep the current URL (it is never shown).",
    )  # fmt: skip
    secret = forms.CharField(
        required=False, label="Signing secret", widget=forms.PasswordInput,
        help_text="Needed only when the new URL is on another origin.",
    )  # fmt: skip
    active = forms.BooleanField(required=False)


OTHER_EVENT_TYPE = "other"
_VOCABULARIES = (("CAEP", CAEP), ("RISC", RISC), ("Okta", OKTA))
# RFC 8141: urn:<NID>:<NSS>.
_URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]{0,30}[A-Za-z0-9]:[^\s]+", re.IGNORECASE)
EVENT_TYPE_URI_ERROR = (
    "Enter an event-type URI: an https URL such as "
    "https://schemas.example.com/secevent/event-type/name, or a URN."
)


def _mapping_event_choices() -> list:
    """The event types the table maps to a detection, grouped by vocabulary, then "other"."""
    groups = []
    for title, prefix in _VOCABULARIES:
        uris = sorted(u for u, rule in RULES.items() if u.startswith(prefix) and rule.kind)
        groups.append((title, [(u, f"{RULES[u].label} ({u.removeprefix(prefix)})") for u in uris]))
    return [("", "Choose an event type"), *groups,
            ("Other", [(OTHER_EVENT_TYPE, "Another event type (enter its URI)")])]  # fmt: skip


def event_type_uri(value: str) -> str:
    """A custom event type: an absolute https (or http) URL or a URN, as SSF event types are."""
    if _URN.fullmatch(value):
        return value
    try:
        URLValidator(schemes=["https", "http"])(value)
    except ValidationError as exc:
        raise forms.ValidationError(EVENT_TYPE_URI_ERROR) from exc
    return value


class MappingOverrideForm(forms.Form):
    """A stream's meaning for one event type: one of the table's, or a custom URI."""

    stream = forms.ModelChoiceField(queryset=Stream.objects.order_by("name"))
    event_type = forms.ChoiceField(choices=_mapping_event_choices)
    custom_event_type = forms.CharField(
        required=False, max_length=255, label="Event-type URI",
        help_text="Only for another event type: e.g. a vendor's own.",
    )  # fmt: skip
    outcome = forms.ChoiceField(choices=MappingOverride.Outcome.choices)

    def clean(self):
        data = super().clean()
        if data.get("event_type") != OTHER_EVENT_TYPE:
            return data
        custom = data.get("custom_event_type", "").strip()
        if not custom:
            self.add_error("custom_event_type", "Enter the event type's URI.")
            return data
        try:
            data["event_type"] = event_type_uri(custom)
        except forms.ValidationError as exc:
            self.add_error("custom_event_type", exc)
        return data
