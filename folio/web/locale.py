"""The UI language of each request: Django's LocaleMiddleware (the footer switcher's cookie,
else the browser's Accept-Language, else LANGUAGE_CODE), with one difference.

Only pages and folio.js's message catalogue say that they vary by language (Vary:
Accept-Language, Content-Language). Django's middleware adds that header to every response,
which would split the shared caches of public rendition URLs (/img/…, Cache-Control: public)
and of files into one copy per browser language, though an image or a JSON answer is the
same in every language.
"""

from django.middleware.locale import LocaleMiddleware

# What is written in the UI's language: pages, and the JavaScript catalogue of folio.js.
LOCALIZED_TYPES = ("text/html", "text/javascript")


class PageLocaleMiddleware(LocaleMiddleware):
    def process_response(self, request, response):
        if not response.get("Content-Type", "").startswith(LOCALIZED_TYPES):
            return response
        return super().process_response(request, response)
