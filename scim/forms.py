"""The SCIM clients page's form; it checks shape only, the service decides."""

from django import forms


class ScimClientForm(forms.Form):
    name = forms.CharField(max_length=100, help_text='The identity provider, e.g. "Okta".')
