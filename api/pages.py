"""The HTML pages' common frame: the État's design system (DSFR, served from node_modules by api/app.py)
with its header, footer and scripts, around a page's own content.

Every page (dashboard, login, and any later one) is `render_page(title=..., main=...)`: the frame is
api/templates/base.html, a page's body is its own template. string.Template, as elsewhere: no template
engine to install. Values are inserted as given: escape what comes from a user or a token with
html.escape before passing it.
"""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).resolve().parent / "templates"

DEMO_BANNER = (
    '<div class="fr-notice fr-notice--warning t-demo" role="note"><div class="fr-container fr-container--fluid">'
    '<div class="fr-notice__body"><p class="fr-notice__title">Mode démonstration : connexion sans contrôle '
    "d'identité, ne pas utiliser en production</p></div></div></div>"
)
TAGLINE = "Information de crise pour les maires, préfectures et services de secours"
FOOTER = ("Tocsin — données issues des messages NexSIS (CISU). Chaque rôle ne voit que son territoire ; "
          "chaque consultation d'affaire est inscrite au journal des accès.")


def template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def render_page(*, title: str, main: str, demo: bool = False, header_tools: str = "", scripts: str = "",
                styles: str = "", body_attrs: str = "", main_class: str = "fr-container t-page",
                tagline: str = TAGLINE) -> str:
    """A whole page. `title`: plain text (escaped here); `main`: the content's HTML; `header_tools`:
    HTML for the header's right side (DSFR `fr-btns-group` list; the DSFR script copies it into the
    phone menu); `scripts` / `styles`: extra `<script src>` / `<link rel=stylesheet>` tags (same origin
    only: the content security policy allows nothing else, nothing inline); `body_attrs`: e.g.
    ` data-tiles="…"` (with its leading space, values escaped)."""
    return template("base.html").substitute(
        title=html.escape(title), main=main, demo_banner=DEMO_BANNER if demo else "",
        header_tools=header_tools, scripts=scripts, styles=styles, body_attrs=body_attrs,
        main_class=main_class, tagline=html.escape(tagline), footer_note=html.escape(FOOTER),
    )
