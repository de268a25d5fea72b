"""Input forms of the console; they check shape only, the services check the transmitter."""

from django import forms

from streams.models import ConfigMethod

METHOD_FIELDS = {
    ConfigMethod.WELL_KNOWN_URL: ("well_known_url",),
    ConfigMethod.ISSUER_AND_JWKS_URL: ("issuer", "jwks_url"),
}


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
    issuer = forms.CharField(
        label="Issuer URL",
        max_length=700,
        required=False,
        help_text="The exact iss value the transmitter puts in its SETs.",
    )
    jwks_url = forms.CharField(label="JWKS URL", max_length=1000, required=False)
    strict_claims = forms.BooleanField(
        label="Refuse SETs that carry sub or exp (SSF 1.0 strict)", required=False
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
        for other, names in METHOD_FIELDS.items():
            if other != method:
                for name in names:
                    data[name] = ""
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            name: data[name]
            for name in ("name", "well_known_url", "issuer", "jwks_url", "strict_claims")
        }
