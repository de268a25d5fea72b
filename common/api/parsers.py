"""The API's JSON parser: DRF's, refusing what no database can store or Python can walk."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from common.text import has_unstorable_text


class StrictJSONParser(JSONParser):
    """JSON bodies; a NUL or a lone surrogate is a 400 (malformed), not a 500 at save time, and
    so is nesting deeper than json.loads can go (DRF catches only its ValueError)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("The JSON body is nested too deeply.") from exc
        if has_unstorable_text(data):
            raise ParseError("The JSON body holds text that no database can store (NUL or a "
                             "lone surrogate).")  # fmt: skip
        return data
