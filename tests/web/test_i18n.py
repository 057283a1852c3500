"""The web UI is ready for translation: every visible string in every template is marked, the
German catalogue really translates pages, and the catalogue can be regenerated from source."""

import gettext
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from django.core.management import call_command
from django.template.base import Lexer, TokenType
from django.test import Client
from django.urls import get_resolver
from django.utils import translation

from folio.web import nav
from tests.conftest import REPO

TEMPLATE_ROOTS = [REPO / "folio" / "web" / "templates", REPO / "folio" / "assets" / "templates"]
TEMPLATES = sorted(p for root in TEMPLATE_ROOTS for p in root.glob("**/*.html"))

# Attributes a person reads or hears (screen readers); `value` only on buttons, see below.
VISIBLE_ATTRIBUTES = {
    "placeholder",
    "title",
    "alt",
    "label",
    "aria-label",
    "aria-description",
    "aria-placeholder",
    "aria-roledescription",
    "aria-valuetext",
}
# Words that stay the same in every language: the brand (and the API tokens' prefix), colour
# models, units, time zones, algorithms. Keep it short: anything a translator might want to
# change belongs in a translate tag.
ALLOWED_WORDS = {"Folio", "folio", "HEX", "RGB", "CMYK", "px", "s", "ms", "UTC", "sha256"}
# Whole values that are examples of what a person types or a file holds (codes, query syntax,
# encodings, date formats, a supplier's own words), not prose of the UI.
ALLOWED_VALUES = {
    "US, DE",
    "capacity>=500 ml",
    "utf-8",
    "cp1252",
    "%d.%m.%Y",
    "MILLILITER",
    "ja, x",
    "nein",
    "auth.user",
    "WB-750-SS-BLUE, WB-750-SS-BLACK",
}

MARK = "\x01"  # stands for translated text and for template variables: no letters
_STRING = r"""(?:"[^"]*"|'[^']*')"""
# A literal argument of default/default_if_none/yesno is shown as it is, unless it is _("…").
_LITERAL_ARG = re.compile(rf"\|(?:default|default_if_none|yesno):({_STRING})")
TRANSLATE_TAGS = {"translate", "trans"}
BLOCK_TRANSLATE_TAGS = {"blocktranslate", "blocktrans"}


def _rebuild(source: str) -> str:
    """The template as HTML a browser could get, with each translate tag, blocktranslate block
    and variable replaced by MARK, other tags and comments removed, and a variable's literal
    fallback ({{ x|default:"none" }}) kept, since it is shown untranslated. Newlines are kept
    so that line numbers still match the template."""
    out = []
    skip_until = None
    for token in Lexer(source).tokenize():
        raw = token.contents
        newlines = "\n" * raw.count("\n")
        if token.token_type == TokenType.BLOCK:
            name = raw.split()[0] if raw.split() else ""
            if skip_until:
                if name == skip_until:
                    out.append(MARK if skip_until == "endblocktranslate" else "")
                    skip_until = None
                out.append(newlines)
                continue
            if name in BLOCK_TRANSLATE_TAGS:
                skip_until = "endblocktranslate" if name == "blocktranslate" else "endblocktrans"
            elif name == "comment":
                skip_until = "endcomment"
            elif name in TRANSLATE_TAGS and " as " not in raw:
                out.append(MARK)
            out.append(newlines)
        elif skip_until:
            out.append("\n" * raw.count("\n"))
        elif token.token_type == TokenType.VAR:
            literals = [m.group(1)[1:-1] for m in _LITERAL_ARG.finditer(raw)]
            out.append(MARK + " ".join(literals) + newlines)
        elif token.token_type == TokenType.COMMENT:
            out.append(newlines)
        else:
            out.append(raw)
    return "".join(out)


def _needs_translation(text: str) -> bool:
    text = " ".join(text.replace(MARK, " ").split())
    if not any(c.isalpha() for c in text) or text in ALLOWED_VALUES:
        return False
    words = [w for w in re.findall(r"[^\W_]+", text) if any(c.isalpha() for c in w)]
    return any(word not in ALLOWED_WORDS for word in words)


class _VisibleText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._raw = None  # inside <script>/<style>: not visible text

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._raw = tag
        values = dict(attrs)
        visible = set(VISIBLE_ATTRIBUTES)
        if tag == "input" and values.get("type") in ("submit", "button", "reset"):
            visible.add("value")
        for name, value in attrs:
            if name in visible and value and _needs_translation(value):
                self.found.append((self.getpos()[0], f'{name}="{value.replace(MARK, "…")}"'))

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag == self._raw:
            self._raw = None

    def handle_data(self, data):
        if self._raw is None and _needs_translation(data):
            self.found.append((self.getpos()[0], " ".join(data.replace(MARK, "…").split())))


def untranslated(source: str) -> list[tuple[int, str]]:
    """(line, text) of each visible text or attribute that no translate tag covers."""
    parser = _VisibleText()
    parser.feed(_rebuild(source))
    parser.close()
    return parser.found


def test_the_scanner_finds_unmarked_text_and_accepts_marked_text():
    found = untranslated(
        '{% load i18n %}<h1>{% translate "Hello" %}</h1>\n'
        "<p>Plain words</p>\n"
        '<input placeholder="Type here" value="{{ v }}" name="q">\n'
        "<p>{% blocktranslate count n=k %}{{ n }} file{% plural %}{{ n }} files"
        "{% endblocktranslate %} · {{ x }}</p>\n"
        '<span title="{% translate \'ok\' %}">{{ who|default:"system" }}</span>\n'
        '<span>{{ who|default:_("system") }} — Folio</span>{# a note #}\n'
        "{% comment %}<p>Not shown</p>{% endcomment %}<script src=a.js></script>\n"
        '<html lang="{{ code|default:\'en\' }}"><button aria-label="Close">✕</button>\n'
    )
    assert found == [
        (2, "Plain words"),
        (3, 'placeholder="Type here"'),
        (5, "…system"),
        (8, 'aria-label="Close"'),
    ]


def test_every_visible_template_string_is_marked_for_translation():
    assert len(TEMPLATES) > 40
    problems = [
        f"{path.relative_to(REPO)}:{line}: {text}"
        for path in TEMPLATES
        for line, text in untranslated(path.read_text())
    ]
    assert problems == [], "\n".join(problems)


# --- the German catalogue --------------------------------------------------------------------

LOCALE_DIR = REPO / "folio" / "locale"


def test_pages_are_english_by_default_and_german_for_a_german_browser(shop, client_for):
    client = client_for("admin")
    english = client.get("/").content.decode()
    assert '<html lang="en' in english
    assert ">Products</a>" in english and "Recent background jobs" in english

    dashboard = client.get("/", headers={"accept-language": "de-DE,de;q=0.9,en;q=0.5"})
    page = dashboard.content.decode()
    assert dashboard["Content-Language"] == "de"
    assert '<html lang="de">' in page
    # the navigation (Python, gettext_lazy), the dashboard (templates), a pluralised count
    assert ">Übersicht</a>" in page and ">Produkte</a>" in page and ">Dateien</a>" in page
    assert "Vollständigkeit je Kanal und Sprache" in page
    assert "Letzte Hintergrundaufgaben" in page
    assert "Abmelden" in page and "Recent background jobs" not in page

    grid = client.get("/products/", headers={"accept-language": "de"}).content.decode()
    assert "<h1>Produkte</h1>" in grid
    assert re.search(r"\d+ Produkte", grid)  # {% blocktranslate count %}
    assert "Gespeicherte Filter" in grid and "Auswahl vergleichen" in grid


def test_the_language_switcher_keeps_the_choice(shop, client_for):
    client = client_for("viewer", csrf=True)
    page = client.get("/products/").content.decode()
    switcher = page.split('action="/i18n/setlang/"', 1)[1].split("</form>", 1)[0]
    assert 'name="csrfmiddlewaretoken"' in switcher
    assert '<option value="de" lang="de">Deutsch</option>' in switcher
    token = client.cookies["csrftoken"].value
    # without the CSRF token the choice is refused
    assert client.post("/i18n/setlang/", {"language": "de"}).status_code == 403
    response = client.post(
        "/i18n/setlang/",
        {"language": "de", "next": "/products/", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302 and response["Location"] == "/products/"
    page = client.get("/products/").content.decode()
    assert "<h1>Produkte</h1>" in page
    assert '<option value="de" lang="de" selected>Deutsch</option>' in page
    # the cookie wins over the browser's language
    assert (
        "<h1>Produkte</h1>"
        in client.get("/products/", headers={"accept-language": "en"}).content.decode()
    )


def test_only_pages_vary_by_language(client_for, api_client):
    """A shared cache keeps one copy of an image or a JSON answer, not one per language."""
    page = client_for("viewer").get("/", headers={"accept-language": "de"})
    assert "Accept-Language" in page["Vary"] and page["Content-Language"] == "de"
    for response in (
        Client().get("/health/live", headers={"accept-language": "de"}),
        api_client("viewer").get("/api/v1/me", headers={"accept-language": "de"}),
    ):
        assert response.status_code == 200
        assert "Accept-Language" not in response.get("Vary", "")
        assert not response.has_header("Content-Language")


def test_every_navigation_entry_has_a_german_label():
    """A page added to the header (folio.web.nav.register) is named in German too."""
    # Loading the URLs imports every views module, which registers its entry.
    get_resolver().url_patterns  # noqa: B018

    labels = {}
    for language in ("en", "de"):
        with translation.override(language):
            labels[language] = {key: str(entry.label) for key, entry in nav.NAV.items()}
    assert len(labels["en"]) >= 8
    untranslated = [key for key, label in labels["en"].items() if labels["de"][key] == label]
    assert untranslated == [], "add their German labels to folio/locale/de/LC_MESSAGES/django.po"


def test_the_compiled_catalogue_matches_its_source():
    """The .mo the server reads is compiled from the committed .po (run compilemessages after
    editing a translation)."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("GNU gettext (msgfmt) is not installed")
    po = LOCALE_DIR / "de" / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    fresh = subprocess.run(
        [msgfmt, "--check-format", "-o", "-", str(po)], capture_output=True, check=True
    ).stdout
    with mo.open("rb") as committed:
        shipped = gettext.GNUTranslations(committed)
    rebuilt = gettext.GNUTranslations(io.BytesIO(fresh))
    assert shipped._catalog == rebuilt._catalog
    assert shipped.gettext("Dashboard") == "Übersicht"


def test_makemessages_regenerates_the_catalogue_with_the_nav_strings(
    tmp_path, settings, monkeypatch
):
    """What a translator runs after strings change: the catalogue is rebuilt from the sources
    (here into a copy), keeps the existing translations and gains every navigation label."""
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        pytest.skip("GNU gettext (xgettext, msgmerge) is not installed")
    copy = tmp_path / "folio"
    shutil.copytree(
        REPO / "folio", copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "static")
    )
    settings.LOCALE_PATHS = [copy / "locale"]
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["de"], add_location="file", verbosity=0)
    text = (copy / "locale" / "de" / "LC_MESSAGES" / "django.po").read_text()
    with translation.override("en"):
        labels = [str(entry.label) for entry in nav.NAV.values()]
    assert "Products" in labels
    for label in labels:
        assert f'\nmsgid "{label}"\n' in text, label
    assert '\nmsgid "Dashboard"\nmsgstr "Übersicht"\n' in text  # translations survive
    assert "#: web/templates/web/dashboard.html" in text  # templates are read too
    assert (
        'msgid "%(n)s product"\nmsgid_plural "%(n)s products"\n'
        'msgstr[0] "%(n)s Produkt"\nmsgstr[1] "%(n)s Produkte"' in text
    )


def test_the_javascript_messages_are_translated_too(db, client):
    """folio.js writes a few messages itself; they come from the JavaScript catalogue."""
    script = (REPO / "folio/web/static/web/folio.js").read_text()
    # Every message the script shows goes through gettext (`_`): no bare English strings
    # assigned as text, announced or used as a label.
    bare = re.findall(
        r'(?:textContent\s*=|announce\(|"aria-label",)\s*"([^"]*[A-Za-z][^"]*)"', script
    )
    assert bare == []
    german = client.get("/i18n/js/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Wird hochgeladen" in german and "Trotzdem hochladen" in german
    english = client.get("/i18n/js/")
    assert "Wird hochgeladen" not in english.content.decode()
    assert "Accept-Language" in english["Vary"]  # a shared cache keeps one per language
