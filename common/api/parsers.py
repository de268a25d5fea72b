"""The API's JSON parser: DRF's, refusing text that no database can store."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from common.text import has_lone_surrogate


class StrictJSONParser(JSONParser):
    """JSON bodies; one holding a lone surrogate is a 400 (malformed), not a 500 at save time."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if has_lone_surrogate(data):
            raise ParseError("The JSON body holds text that is not valid Unicode.")
        return data
