"""Risk: the system log, the directory of entities, entity risk, and the entity risk policy."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from common.ids import okta_style_id
from common.json_depth import StoredJSONDecoder
from events.models import SecurityEvent
from streams.fetch import url_origin
from streams.models import Stream


class RiskLevel(models.TextChoices):
    """Okta's entity risk levels; NONE is "no risk" (the User Risk API's NONE)."""

    NONE = "NONE", "None"
    LOW = "LOW", "Low"
    MEDIUM = "MEDIUM", "Medium"
    HIGH = "HIGH", "High"

    @property
    def badge(self) -> str:
        return {"NONE": "muted", "LOW": "info", "MEDIUM": "warning", "HIGH": "danger"}[self.value]

    @property
    def rank(self) -> int:
        return ["NONE", "LOW", "MEDIUM", "HIGH"].index(self.value)


class OutcomeResult(models.TextChoices):
    """Okta LogEvent outcome.result values we emit."""

    SUCCESS = "SUCCESS", "Success"
    FAILURE = "FAILURE", "Failure"
    SKIPPED = "SKIPPED", "Skipped"
    UNKNOWN = "UNKNOWN", "Unknown"

    @property
    def badge(self) -> str:
        return {"SUCCESS": "success", "FAILURE": "danger"}.get(self.value, "muted")


class Severity(models.TextChoices):
    DEBUG = "DEBUG", "Debug"
    INFO = "INFO", "Info"
    WARN = "WARN", "Warn"
    ERROR = "ERROR", "Error"


class LogEvent(models.Model):
    """One System Log record, shaped after Okta's LogEvent so Okta System Log readers can read it.

    `target_id`, `entity_id` and `stream_ref` copy ids out of the JSON so the log can be filtered
    on indexes; `published` + `id` is the keyset the pages and the API paginate on;
    `search_text` holds the words Okta's `q` looks through.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    published = models.DateTimeField(default=timezone.now)
    event_type = models.CharField(max_length=100)
    version = models.CharField(max_length=8, default="0")
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.INFO)
    display_message = models.CharField(max_length=255)
    actor = models.JSONField(default=dict)
    client = models.JSONField(null=True, blank=True)
    outcome_result = models.CharField(
        max_length=16, choices=OutcomeResult.choices, default=OutcomeResult.SUCCESS
    )
    outcome_reason = models.CharField(max_length=255, blank=True)
    target = models.JSONField(default=list)
    transaction = models.JSONField(null=True, blank=True)
    # Holds SET bodies: decoded safely whatever a row holds, so the System Log always renders.
    debug_data = models.JSONField(default=dict, decoder=StoredJSONDecoder)
    target_id = models.CharField(max_length=64, blank=True)
    entity_id = models.CharField(max_length=20, blank=True)
    stream_ref = models.CharField(max_length=20, blank=True)
    trace_id = models.CharField(max_length=64, blank=True)
    security_event = models.ForeignKey(
        SecurityEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="log_events"
    )
    # The StreamChange this record mirrors (stream add/update/activate/deactivate/remove).
    stream_change_id = models.BigIntegerField(null=True, blank=True)
    # What `q` searches, lower-cased at write time (risk.log_search); trigram-indexed on
    # PostgreSQL by migration 0005_log_search_text, outside Meta as SQLite has no such index.
    search_text = models.TextField(blank=True, default="", editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["-published", "-id"], name="log_published"),
            models.Index(fields=["event_type", "-published", "-id"], name="log_type_published"),
            models.Index(fields=["target_id", "-published", "-id"], name="log_target_published"),
            models.Index(fields=["entity_id", "-published", "-id"], name="log_entity_published"),
            models.Index(fields=["stream_ref", "-published", "-id"], name="log_stream_published"),
            models.Index(
                fields=["outcome_result", "-published", "-id"], name="log_outcome_published"
            ),
            models.Index(fields=["trace_id"], name="log_trace"),
        ]
        constraints = [
            # One receive_event per stored SET, however often processing runs.
            models.UniqueConstraint(
                fields=["security_event"],
                condition=Q(event_type="security.events.provider.receive_event"),
                name="log_one_receive_event_per_set",
            ),
            models.UniqueConstraint(
                fields=["stream_change_id"],
                condition=Q(stream_change_id__isnull=False),
                name="log_one_record_per_stream_change",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.published:%Y-%m-%d %H:%M:%S} {self.event_type}"

    @property
    def outcome_choice(self) -> OutcomeResult:
        return OutcomeResult(self.outcome_result)


class EntityKind(models.TextChoices):
    USER = "USER", "User"
    DEVICE = "DEVICE", "Device"


ENTITY_ID_PREFIXES = {EntityKind.USER: "00u", EntityKind.DEVICE: "guo"}


def new_entity_id(kind: str) -> str:
    """An Okta-style id: `00u...` for users, `guo...` for devices."""
    return okta_style_id(ENTITY_ID_PREFIXES[EntityKind(kind)])


def is_entity_id(value: str) -> bool:
    """Whether a record's target id names a directory entity (not, say, an admin's account)."""
    return isinstance(value, str) and value.startswith(tuple(ENTITY_ID_PREFIXES.values()))


class DirectoryGroup(models.Model):
    """A group of users, for the policy's group conditions."""

    name = models.CharField(max_length=150, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserStatus(models.TextChoices):
    """Okta's user lifecycle states that this directory uses (Users API `status`)."""

    STAGED = "STAGED", "Staged"
    ACTIVE = "ACTIVE", "Active"
    DEPROVISIONED = "DEPROVISIONED", "Deactivated"

    @property
    def badge(self) -> str:
        return {"STAGED": "info", "ACTIVE": "success", "DEPROVISIONED": "muted"}[self.value]


class Entity(models.Model):
    """A user or device in the directory, with its entity risk (derived from its detections)."""

    id = models.CharField(primary_key=True, max_length=20, editable=False)
    kind = models.CharField(max_length=8, choices=EntityKind.choices, default=EntityKind.USER)
    login = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=255, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    groups = models.ManyToManyField(DirectoryGroup, blank=True, related_name="members")
    created_automatically = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    risk_level = models.CharField(max_length=8, choices=RiskLevel.choices, default=RiskLevel.NONE)
    risk_reason = models.CharField(max_length=500, blank=True)
    risk_updated_at = models.DateTimeField(null=True, blank=True)
    # The source of the detection behind the current level ("" for an admin).
    risk_stream_ref = models.CharField(max_length=20, blank=True)
    # Okta's user lifecycle (status, activated, statusChanged, lastUpdated); a deprovisioned
    # user keeps its risk history.
    status = models.CharField(max_length=16, choices=UserStatus.choices, default=UserStatus.ACTIVE)
    activated_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "entities"
        constraints = [
            models.UniqueConstraint(
                fields=["login"], condition=~Q(login=""), name="entity_unique_login"
            ),
        ]
        indexes = [
            models.Index(fields=["risk_level", "-risk_updated_at"], name="entity_risk"),
            models.Index(fields=["-risk_updated_at"], name="entity_risk_updated"),
        ]

    def __str__(self) -> str:
        return self.label

    def save(self, *args, **kwargs):
        if not self.id:
            self.id = new_entity_id(self.kind)
        super().save(*args, **kwargs)

    @property
    def label(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return self.display_name or name or self.login or self.email or self.id

    @property
    def risk_choice(self) -> RiskLevel:
        return RiskLevel(self.risk_level)

    @property
    def status_choice(self) -> UserStatus:
        return UserStatus(self.status)


class EntityIdentifier(models.Model):
    """A subject identifier (RFC 9493) that names an entity, by its canonical key.

    The key is `format:value` after canonicalisation (risk.subjects), e.g.
    `email:alice@example.com` or `iss_sub:https://idp.example|248289761001`.
    """

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="identifiers")
    key = models.CharField(max_length=800, unique=True)

    def __str__(self) -> str:
        return self.key


class RiskSource(models.TextChoices):
    """Okta's detection types that this receiver produces."""

    PROVIDER = "SECURITY_EVENTS_PROVIDER_REPORTED_RISK", "Security Events Provider Reported Risk"
    ADMIN = "ADMIN_REPORTED_USER_RISK", "Admin Reported User Risk"


class DetectionKind(models.TextChoices):
    """What a detection is about, named by the mapping table after the event type behind it."""

    USER_RISK = "USER_RISK", "User risk"
    DEVICE_RISK = "DEVICE_RISK", "Device risk"
    DEVICE_COMPLIANCE = "DEVICE_COMPLIANCE", "Device compliance"
    CREDENTIAL_CHANGE = "CREDENTIAL_CHANGE", "Credential change"
    SESSIONS_REVOKED = "SESSIONS_REVOKED", "Sessions revoked"
    ASSURANCE_DECREASE = "ASSURANCE_DECREASE", "Assurance level decrease"
    TOKEN_CLAIMS_CHANGE = "TOKEN_CLAIMS_CHANGE", "Token claims change"
    SESSION_ACTIVITY = "SESSION_ACTIVITY", "Session activity"
    CREDENTIAL_COMPROMISE = "CREDENTIAL_COMPROMISE", "Credential compromise"
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED", "Account disabled"
    ACCOUNT_ENABLED = "ACCOUNT_ENABLED", "Account enabled"
    ACCOUNT_PURGED = "ACCOUNT_PURGED", "Account purged"
    IDENTIFIER_CHANGED = "IDENTIFIER_CHANGED", "Identifier changed"
    IDENTIFIER_RECYCLED = "IDENTIFIER_RECYCLED", "Identifier recycled"
    CREDENTIAL_CHANGE_REQUIRED = "CREDENTIAL_CHANGE_REQUIRED", "Credential change required"
    ACCOUNT_RECOVERY = "ACCOUNT_RECOVERY", "Account recovery"
    OPT_OUT = "OPT_OUT", "Opt in / opt out"
    IP_CHANGE = "IP_CHANGE", "IP change"
    ADMIN = "ADMIN", "Admin reported"

    @property
    def detection_type(self) -> RiskSource:
        """Okta's detection type (riskDetectionTypes) of this kind."""
        return RiskSource.ADMIN if self is DetectionKind.ADMIN else RiskSource.PROVIDER


class DetectionState(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    CLEARED = "CLEARED", "Cleared by its source"
    EXPIRED = "EXPIRED", "Expired"
    DISMISSED = "DISMISSED", "Dismissed by an admin"

    @property
    def badge(self) -> str:
        return {"ACTIVE": "warning", "DISMISSED": "info"}.get(self.value, "muted")


class RiskEvidence(models.Model):
    """What detections, their signals and risk changes each keep: a level and what said it."""

    level = models.CharField(max_length=8, choices=RiskLevel.choices)
    reasons = models.CharField(max_length=500, blank=True)
    issuer = models.CharField(max_length=700, blank=True)
    event_type = models.CharField(max_length=255, blank=True)
    actor_name = models.CharField(max_length=150, blank=True)

    class Meta:
        abstract = True

    @property
    def level_choice(self) -> RiskLevel:
        return RiskLevel(self.level)


def one_per_set_and_cause(prefix: str, source: str) -> list[models.BaseConstraint]:
    """One row per (SET, entity), and per SSF txn of one source and entity: SETs sharing a
    cause make one."""
    return [
        models.UniqueConstraint(
            fields=["security_event", "entity"],
            condition=Q(security_event__isnull=False),
            name=f"{prefix}_one_per_set_and_entity",
        ),
        models.UniqueConstraint(
            fields=["entity", source, "txn"], condition=~Q(txn=""), name=f"{prefix}_one_per_cause"
        ),
    ]


class Detection(RiskEvidence):
    """One source's detection of one kind about an entity; the entity's risk derives from the
    active ones (risk.services.entity_risk).

    `source_ref` is the stream's id ("" for an admin). `reported`: the source states this
    detection's level itself (Okta user/device risk, CAEP risk-level-change, compliance), so
    its newest signal replaces the level; otherwise the level is one we infer from the event
    type, and a later signal can raise it but never lower it.
    """

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="detections")
    source_ref = models.CharField(max_length=20, blank=True)
    kind = models.CharField(max_length=32, choices=DetectionKind.choices)
    reported = models.BooleanField(default=True)
    state = models.CharField(
        max_length=16, choices=DetectionState.choices, default=DetectionState.ACTIVE
    )
    # The SET behind the current level (None for an admin's detection).
    security_event = models.ForeignKey(
        SecurityEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # Event time (event_timestamp, else toe, else iat) of the newest signal applied: an older
    # signal of the same source and kind arriving late does not replace a reported level.
    observed_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=150, blank=True)
    end_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "source_ref", "kind"],
                condition=Q(state="ACTIVE"),
                name="detection_one_active_per_source_and_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["entity", "-last_seen_at"], name="detection_entity"),
            models.Index(
                fields=["expires_at"], condition=Q(state="ACTIVE"), name="detection_expiry"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity_id} {self.kind} {self.level} ({self.state})"

    @property
    def state_choice(self) -> DetectionState:
        return DetectionState(self.state)

    @property
    def is_active(self) -> bool:
        return self.state == DetectionState.ACTIVE


class SignalEffect(models.TextChoices):
    """What one signal did to its detection."""

    NEW = "NEW", "New detection"
    RAISED = "RAISED", "Raised the level"
    LOWERED = "LOWERED", "Lowered the level (the source's own)"
    REPEATED = "REPEATED", "Repeated the level"
    NOT_LOWERED = "NOT_LOWERED", "Lower than the detection: an inferred level never lowers"
    OUT_OF_ORDER = "OUT_OF_ORDER", "Older than the detection's newest signal; not applied"
    CLEARED = "CLEARED", "Cleared the detection"
    NOTHING_TO_CLEAR = "NOTHING_TO_CLEAR", "Nothing to clear"
    BEFORE_DETECTIONS = "BEFORE_DETECTIONS", "Recorded before detections existed"


class DetectionSignal(RiskEvidence):
    """One report of a detection (a SET, an admin): the report lists and counts these, repeats
    included, as Okta counts detections. `level` is what it said (NONE: its source cleared
    the detection)."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="signals")
    detection = models.ForeignKey(
        Detection, null=True, blank=True, on_delete=models.SET_NULL, related_name="signals"
    )
    source_ref = models.CharField(max_length=20, blank=True)
    kind = models.CharField(max_length=32, choices=DetectionKind.choices)
    effect = models.CharField(max_length=20, choices=SignalEffect.choices)
    security_event = models.ForeignKey(
        SecurityEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    txn = models.CharField(max_length=255, blank=True)
    trace_id = models.CharField(max_length=64, blank=True)
    observed_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = one_per_set_and_cause("signal", "source_ref")
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="signal_created"),
            models.Index(fields=["entity", "-created_at"], name="signal_entity"),
            models.Index(fields=["source_ref", "-created_at"], name="signal_source"),
        ]

    def __str__(self) -> str:
        return f"{self.entity_id} {self.kind} {self.level}: {self.effect}"


class RiskChangeCause(models.TextChoices):
    SIGNAL = "SIGNAL", "A signal"
    ADMIN_SET = "ADMIN_SET", "Set by an admin"
    DISMISSED = "DISMISSED", "Detection dismissed by an admin"
    RESET = "RESET", "Reset by an admin"
    EXPIRED = "EXPIRED", "Detection expired"


class RiskChange(RiskEvidence):
    """One change of an entity's derived risk level, what caused it, and the detections behind
    the new level (`detections`, as they were then)."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="risk_changes")
    previous_level = models.CharField(max_length=8, choices=RiskLevel.choices)
    # Okta's detection type of the detection behind the new level (or of the cause, at NONE).
    source = models.CharField(
        max_length=64, choices=RiskSource.choices, default=RiskSource.PROVIDER
    )
    cause = models.CharField(
        max_length=16, choices=RiskChangeCause.choices, default=RiskChangeCause.SIGNAL
    )
    security_event = models.ForeignKey(
        SecurityEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="risk_changes"
    )
    # The detection whose change caused this one (None for a reset or several expiries).
    detection = models.ForeignKey(
        Detection, null=True, blank=True, on_delete=models.SET_NULL, related_name="risk_changes"
    )
    detections = models.JSONField(default=list, blank=True)
    stream_ref = models.CharField(max_length=20, blank=True)
    txn = models.CharField(max_length=255, blank=True)
    trace_id = models.CharField(max_length=64)
    observed_at = models.DateTimeField(help_text="When the signal says the event happened.")
    created_at = models.DateTimeField(default=timezone.now)
    # The entity risk policy rule the change matched ("" when none was evaluated).
    rule_name = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = one_per_set_and_cause("risk_change", "stream_ref")
        indexes = [
            models.Index(fields=["entity", "-created_at"], name="risk_change_entity"),
            models.Index(fields=["-created_at"], name="risk_change_created"),
            models.Index(fields=["stream_ref", "-created_at"], name="risk_change_stream"),
        ]

    def __str__(self) -> str:
        return f"{self.entity_id}: {self.previous_level} -> {self.level}"

    @property
    def detection_name(self) -> str:
        return RiskSource(self.source).label


class MappingOverride(models.Model):
    """A stream's own meaning for an event type: the admin says what this provider's event means."""

    class Outcome(models.TextChoices):
        NO_CHANGE = "NO_CHANGE", "No risk change (log only)"
        CLEAR = "CLEAR", "Clear the risk (None)"
        LOW = "LOW", "Low"
        MEDIUM = "MEDIUM", "Medium"
        HIGH = "HIGH", "High"

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="mapping_overrides")
    event_type = models.CharField(max_length=255)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stream", "event_type"], name="mapping_override_unique")
        ]

    def __str__(self) -> str:
        return f"{self.stream_id} {self.event_type} -> {self.outcome}"


def _by_origin(origin: str) -> str:
    """An outbound URL as admins who may not see its secrets see it: its origin only."""
    return f"{origin}/\N{HORIZONTAL ELLIPSIS}"


class ActionTarget(models.Model):
    """What a policy action calls: named, can be switched off, ordered by name."""

    name = models.CharField(max_length=100, unique=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ConnectedApp(ActionTarget):
    """An app that accepts Universal Logout: a global token revocation endpoint and its token."""

    revocation_endpoint = models.CharField(max_length=1000)
    # Sent as a bearer token, so kept retrievable: encrypted at rest (common.crypto).
    encrypted_token = models.TextField()

    @property
    def masked_endpoint(self) -> str:
        """What read-only admins see: Universal Logout URLs may carry a secret in their path or
        query (a tenant key, a signed link), as webhook URLs do."""
        return _by_origin(url_origin(self.revocation_endpoint))


class Workflow(ActionTarget):
    """A Workflows-style webhook: a signed JSON POST to a URL when a rule says "Run workflow"."""

    # A webhook's path often is its secret (Slack, Zapier, Okta Workflows' invoke URLs): kept
    # encrypted like the signing secret (common.crypto); only the origin is kept readable.
    encrypted_url = models.TextField()
    url_origin = models.CharField(max_length=300)
    encrypted_secret = models.TextField()

    @property
    def masked_url(self) -> str:
        return _by_origin(self.url_origin)


class LevelCondition(models.TextChoices):
    ANY = "ANY", "Any"
    LOW = "LOW", "Low"
    MEDIUM = "MEDIUM", "Medium"
    HIGH = "HIGH", "High"


class AppSelection(models.TextChoices):
    """Universal Logout app selection (Okta's PolicySingleLogOutSelectionMode)."""

    NONE = "NONE", "No apps"
    ALL = "ALL", "All connected apps"
    SPECIFIED = "SPECIFIED", "Specified apps"


class PolicyRule(models.Model):
    """A rule of the entity risk policy; rules are tried by priority, the first match acts.

    The catch-all rule (`is_catch_all`) matches everything, only logs, and cannot be removed.
    """

    name = models.CharField(max_length=100, unique=True)
    priority = models.PositiveIntegerField(default=1)
    active = models.BooleanField(default=True)
    is_catch_all = models.BooleanField(default=False)
    risk_level = models.CharField(
        max_length=8, choices=LevelCondition.choices, default=LevelCondition.ANY
    )
    # Okta riskDetectionTypes.include; empty means any detection type.
    detection_types = models.JSONField(default=list, blank=True)
    source_streams = models.ManyToManyField(Stream, blank=True, related_name="+")
    groups_include = models.ManyToManyField(DirectoryGroup, blank=True, related_name="+")
    groups_exclude = models.ManyToManyField(DirectoryGroup, blank=True, related_name="+")
    terminate_sessions = models.BooleanField("logout and revoke tokens", default=False)
    app_selection = models.CharField(
        max_length=16, choices=AppSelection.choices, default=AppSelection.ALL
    )
    apps = models.ManyToManyField(ConnectedApp, blank=True, related_name="rules")
    workflow = models.ForeignKey(
        Workflow, null=True, blank=True, on_delete=models.SET_NULL, related_name="rules"
    )

    class Meta:
        ordering = ["is_catch_all", "priority", "id"]

    def __str__(self) -> str:
        return self.name


class ActionKind(models.TextChoices):
    UNIVERSAL_LOGOUT = "TERMINATE_ALL_SESSIONS", "Logout and revoke tokens"
    RUN_WORKFLOW = "RUN_WORKFLOW", "Run workflow"


class ActionStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED = "FAILED", "Failed"

    @property
    def badge(self) -> str:
        return {"PENDING": "warning", "SUCCEEDED": "success", "FAILED": "danger"}[self.value]


class PolicyAction(models.Model):
    """One outbound action a rule fired for a risk change: a logout at one app, or one workflow.

    The row is the outbox (risk.services.actions): PENDING until an attempt succeeds or gives up.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    risk_change = models.ForeignKey(RiskChange, on_delete=models.CASCADE, related_name="actions")
    rule = models.ForeignKey(PolicyRule, null=True, on_delete=models.SET_NULL, related_name="+")
    rule_name = models.CharField(max_length=100)
    kind = models.CharField(max_length=32, choices=ActionKind.choices)
    app = models.ForeignKey(ConnectedApp, null=True, blank=True, on_delete=models.SET_NULL)
    workflow = models.ForeignKey(Workflow, null=True, blank=True, on_delete=models.SET_NULL)
    target_name = models.CharField(max_length=100)
    status = models.CharField(
        max_length=16, choices=ActionStatus.choices, default=ActionStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # Set (committed) before an attempt's call and cleared with its outcome: while it lies ahead
    # no one else runs the action; once past, the attempt's worker died before recording what
    # happened, and the next run re-sends the same attempt.
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Re-sends of the current attempt after its worker died before recording its outcome.
    redeliveries = models.PositiveSmallIntegerField(default=0)
    # The next attempt is due at this time (later after a transient failure: the back-off).
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["risk_change", "app"],
                condition=Q(app__isnull=False),
                name="policy_action_once_per_app",
            ),
            models.UniqueConstraint(
                fields=["risk_change", "workflow"],
                condition=Q(workflow__isnull=False),
                name="policy_action_once_per_workflow",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "-created_at"], name="policy_action_kind"),
            # What the sweep reads every few seconds: the PENDING actions, by when they are due.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status=ActionStatus.PENDING),
                name="policy_action_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.target_name}: {self.status}"

    @property
    def status_choice(self) -> ActionStatus:
        return ActionStatus(self.status)
