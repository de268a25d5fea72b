"""`manage.py list_streams`: the streams as the console lists them."""

from django.core.management.base import BaseCommand

from streams.selectors import stream_list


class Command(BaseCommand):
    help = "List streams: id, status, name, configuration method and issuer (tab-separated)."

    def handle(self, *args, **options):
        streams = list(stream_list())
        if not streams:
            self.stdout.write("No streams.")
            return
        self.stdout.write("id\tstatus\tname\tmethod\tissuer")
        for s in streams:
            self.stdout.write(
                f"{s.pk}\t{s.status}\t{s.name}\t{s.get_config_method_display()}\t{s.issuer}"
            )
