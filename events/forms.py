"""Forms of the SET pages: the filters of a stream's SET exports."""

from django import forms

from events.models import SecurityEventStatus


class StreamEventsExportForm(forms.Form):
    """Accepted SETs by status and event type; rejected ones by error code."""

    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *SecurityEventStatus.choices]
    )
    event_type = forms.CharField(required=False, max_length=255, label="Event type")
    err = forms.CharField(required=False, max_length=32, label="Error")
