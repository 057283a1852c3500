from folio import demo
from folio.cli import FolioCommand


class Command(FolioCommand):
    help = "Add the demo catalog (users of each role, products, media) where it is missing."

    def run(self, **options):
        demo.seed(self.stdout)
        self.stdout.write("demo catalog ready")
