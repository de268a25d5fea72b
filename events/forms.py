"""Filters of the pages of a stream's SETs; forms, so that junk (a NUL: Django's CharField
refuses it) never reaches a query."""

from typing import cast

from django import forms

from events.models import SecurityEventStatus


class AcceptedSetFilterForm(forms.Form):
    """The accepted SETs of a stream: by event type, status, and jti or subject."""

    event_type = forms.ChoiceField(required=False, label="Event type")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *SecurityEventStatus.choices]
    )
    q = forms.CharField(
        required=False, max_length=255, label="jti or subject", strip=True,
        help_text="A jti, or part of the subject (an email, a device id).",
    )  # fmt: skip

    def __init__(self, *args, event_types: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["event_type"]).choices = [("", "Any event type")] + [
            (t, t) for t in event_types
        ]


class RejectedSetFilterForm(forms.Form):
    """The rejected SETs of a stream: by the error we answered, and jti."""

    err = forms.ChoiceField(required=False, label="Error")
    q = forms.CharField(required=False, max_length=255, label="jti", strip=True)

    def __init__(self, *args, errors: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["err"]).choices = [("", "Any error")] + [
            (e, e) for e in errors
        ]
