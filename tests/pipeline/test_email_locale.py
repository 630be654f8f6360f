"""The branded email read back: To with the customer's name and long Subjects encoded in RFC
2047 words of at most 75 characters that decode to exactly what was written (120-character
Czech, Ukrainian and Bulgarian names and subjects, names with commas, quotes and angle
brackets); the logo as an inline CID part; the text part saying what the HTML part says; and
the HTML laid out in headless Chromium (Debian's /usr/bin/chromium) the same way in every
locale, at desktop and phone widths, compared on the screenshots."""

from __future__ import annotations

import base64
import email
import io
import re
from datetime import UTC, date, datetime
from email import policy
from html.parser import HTMLParser
from typing import Any

import pytest

from factory.config import load_settings
from factory.jobs import RecordSchema, load_job
from factory.messages.email import EmailParts, build_email
from factory.models import Period
from factory.pipeline.messages import MessageRenderer
from factory.templates import DocumentMeta, DocumentTemplates
from tests.conftest import REPO
from tests.render.test_render import statement_record

LOCALES = ["en", "cs", "sk", "uk", "bg"]
ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
NAMES = {
    "cs": "Marie Terezie Svobodová-Dvořáková Procházková Kučerová Veselá Horáková Němcová "
          "Pokorná Černá Nováková Šťastná",
    "uk": "Олександр Тарасович Шевченко-Коваленко Бондаренко Ткаченко Кравченко Мельник "
          "Ковальчук Олійник",
    "bg": "Десислава Цветелинова Йорданова-Георгиева Димитрова Петрова Николова Стоянова "
          "Христова Иванова",
}
SUBJECTS = {
    "cs": "Prodloužení smlouvy o účtu ke dni 31. prosince 2026 – důležité upozornění na změnu "
          "obchodních podmínek a sazebníku",
    "uk": "Ваш договір банківського рахунку продовжується 31 грудня 2026 р. на оновлених "
          "Загальних умовах обслуговування",
    "bg": "Договорът Ви за сметка се подновява на 31 декември 2026 г. съгласно актуализираните "
          "ни Общи условия и тарифа",
}


def _exactly_120(text: str) -> str:
    """``text`` repeated and cut to 120 characters, not ending in a space."""
    long = (text + " ") * 3
    cut = long[:120]
    return cut if not cut.endswith(" ") else cut[:-1] + "x"


NAMES = {locale: _exactly_120(name) for locale, name in NAMES.items()}
SUBJECTS = {locale: _exactly_120(subject) for locale, subject in SUBJECTS.items()}
META = DocumentMeta("doc-mail", "renewal_notice", "renewal_notice", Period.parse("2026-12"),
                    date(2026, 12, 1), "f" * 64)


def build(**changes: Any) -> bytes:
    values = {"subject": "Test", "html": "<p>x</p>", "text": "x\n",
              "sender": "Northwind Bank <care@northwind.example>",
              "recipient": "jana@example.com", "key": "k-1", "date": datetime.now(UTC)}
    return build_email(EmailParts(**(values | changes)))[0]


def header_block(data: bytes) -> list[str]:
    return data.split(b"\r\n\r\n", 1)[0].decode("ascii").split("\r\n")


def field(data: bytes, name: str) -> list[str]:
    """The physical lines of one header field."""
    lines, found = header_block(data), []
    for line in lines:
        if line.lower().startswith(name.lower() + ":"):
            found = [line]
        elif found and line[:1] in (" ", "\t") and found[-1] is not None:
            found.append(line)
        elif found:
            break
    return found


def decoded_to(data: bytes) -> tuple[str, str]:
    """(display name, address) of the To field, decoded by RFC 2047 section 6.2 with
    `email.header.decode_header` (white space between encoded words ignored, as mail clients
    do; Python's address parser keeps it)."""
    from email.header import decode_header, make_header
    from email.utils import parseaddr

    value = " ".join(line.strip() for line in field(data, "To"))[len("To:"):].strip()
    phrase, _, rest = value.rpartition(" <")
    if not phrase:
        return parseaddr(value)
    if ENCODED_WORD.search(phrase):
        return str(make_header(decode_header(phrase))), rest.rstrip(">")
    return parseaddr(value)


def check_rfc2047(lines: list[str]) -> None:
    for line in lines:
        assert len(line) <= 76, line
        for word in ENCODED_WORD.findall(line):
            assert len(word) <= 75, word


@pytest.mark.fast
def test_the_names_and_subjects_are_120_characters_long() -> None:
    for text in [*NAMES.values(), *SUBJECTS.values()]:
        assert len(text) == 120


@pytest.mark.fast
@pytest.mark.parametrize("locale", sorted(NAMES))
def test_to_carries_the_name_in_words_of_at_most_75_characters(locale: str) -> None:
    name = NAMES[locale]
    data = build(recipient="jana@example.com", recipient_name=name)
    check_rfc2047(field(data, "To"))
    assert decoded_to(data) == (name, "jana@example.com")
    # Python's own parser (it keeps white space between encoded words) still finds one
    # address, and no word of the name is split.
    to = email.message_from_bytes(data, policy=policy.default)["To"]
    assert to.addresses[0].addr_spec == "jana@example.com"
    assert to.addresses[0].display_name.split() == name.split()


@pytest.mark.fast
@pytest.mark.parametrize("name", [
    'Novák, Jan', 'Jan "Honza" Novák', "Jan <Novák>", 'O\'Connor, "Jim" <boss>',
    'Černý, Petr "Péťa" <ředitel>', "Шевченко, Тарас <пан>", "A" * 110 + ", B",
])
def test_names_with_commas_quotes_and_angle_brackets_stay_one_name(name: str) -> None:
    data = build(recipient="petr@example.com", recipient_name=name)
    check_rfc2047(field(data, "To"))
    assert decoded_to(data) == (name, "petr@example.com")
    to = email.message_from_bytes(data, policy=policy.default)["To"]
    assert len(to.addresses) == 1
    assert to.addresses[0].addr_spec == "petr@example.com"


@pytest.mark.fast
@pytest.mark.parametrize("locale", sorted(SUBJECTS))
def test_long_subjects_fold_without_losing_a_space(locale: str) -> None:
    subject = SUBJECTS[locale]
    data = build(subject=subject)
    lines = field(data, "Subject")
    assert len(lines) > 1
    check_rfc2047(lines)
    assert email.message_from_bytes(data, policy=policy.default)["Subject"] == subject


@pytest.mark.fast
def test_a_short_ascii_subject_and_name_stay_readable() -> None:
    data = build(subject="Your agreement renews", recipient_name="Grace Smith")
    assert field(data, "Subject") == ["Subject: Your agreement renews"]
    assert field(data, "To") == ["To: Grace Smith <jana@example.com>"]


# -- the renewal notice's email, in every locale ----------------------------------------------

@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> MessageRenderer:
    job = load_job(REPO / "jobs" / "renewal_notice.toml")
    settings = load_settings(REPO, {}, var_dir=str(tmp_path_factory.mktemp("var")))
    templates = DocumentTemplates.load(settings.templates_dir, settings.assets_dir,
                                       job.template_set, job.brand, job.locales)
    return MessageRenderer(job, templates, RecordSchema(job))


NATIVE = {"en": ("Grace Smith", "ms"), "cs": ("Petr Černý", "mr"),
          "sk": ("Mária Kováčová", "ms"), "uk": ("Тарас Шевченко", "mr"),
          "bg": ("Иван Иванов", "mr")}


def notice(renderer: MessageRenderer, locale: str) -> email.message.EmailMessage:
    name, form = NATIVE[locale]
    record = statement_record(locale, 0, name=name, salutation=form)
    artifact, _ = renderer.email(record, META, "customer@example.com", "key-" + locale,
                                 b"%PDF-1.7 notice")
    return email.message_from_bytes(artifact.data, policy=policy.default)


@pytest.mark.fast
@pytest.mark.parametrize("locale", LOCALES)
def test_logo_is_an_inline_cid_part_and_the_css_is_inlined(renderer: MessageRenderer,
                                                           locale: str) -> None:
    message = notice(renderer, locale)
    assert message["To"].addresses[0].display_name == NATIVE[locale][0]
    html_part = message.get_body(("html",))
    related = [p for p in message.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1
    images = [p for p in related[0].iter_parts() if p.get_content_maintype() == "image"]
    assert len(images) == 1 and images[0]["Content-ID"] == "<logo@docfactory>"
    assert images[0].get_content_type() == "image/png"
    assert images[0].get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    html = html_part.get_content()
    assert 'src="cid:logo@docfactory"' in html
    assert re.search(r'<table class="facts"[^>]*style="[^"]*margin', html)


class _Text(HTMLParser):
    """The words a reader sees in the HTML part (no <style>, <title> or <head>)."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in {"style", "title", "head"}:
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in {"style", "title", "head"}:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.words.extend(data.split())


def words(text: str) -> list[str]:
    cleaned = (w.strip(":·–-") for w in text.split())
    return [w for w in cleaned if w]


@pytest.mark.fast
@pytest.mark.parametrize("locale", LOCALES)
def test_the_text_part_says_what_the_html_part_says(renderer: MessageRenderer,
                                                    locale: str) -> None:
    message = notice(renderer, locale)
    parser = _Text()
    parser.feed(message.get_body(("html",)).get_content())
    html_words = words(" ".join(parser.words))
    text_words = words(message.get_body(("plain",)).get_content())
    assert text_words == html_words


# -- headless Chromium ------------------------------------------------------------------------

def _html_with_images(message: email.message.EmailMessage) -> str:
    """The HTML as a mail client shows it: cid: references resolved to the inline parts."""
    html = message.get_body(("html",)).get_content()
    for part in message.walk():
        cid = (part.get("Content-ID") or "").strip("<>")
        if cid:
            data = base64.b64encode(part.get_content()).decode("ascii")
            html = html.replace(f"cid:{cid}", f"data:{part.get_content_type()};base64,{data}")
    return html


def _layout(png: bytes) -> dict[str, int]:
    """Facts measured on a screenshot: where the brand rule is, where the frame's right edge
    is, and whether anything is drawn right of the frame."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    pixels = image.load()
    primary = (0x0B, 0x3D, 0x91)
    x = width // 2
    rule = next(y for y in range(height)
                if all(abs(a - b) < 12 for a, b in zip(pixels[x, y], primary, strict=True)))
    row = rule + 30
    right = max(i for i in range(width) if pixels[i, row] == (255, 255, 255))
    overflow = sum(1 for y in range(height) for i in range(right + 2, width)
                   if pixels[i, y] not in {(0xF4, 0xF6, 0xF9), (255, 255, 255)})
    return {"rule": rule, "right": right, "overflow": overflow}


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    from tests.api.test_web import ARGS, CHROMIUM

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.mark.parametrize("width", [640, 375])
def test_the_email_renders_alike_in_every_locale_in_chromium(
        renderer: MessageRenderer, chromium: Any, width: int, tmp_path: Any) -> None:
    layouts = {}
    for locale in LOCALES:
        page = chromium.new_page(viewport={"width": width, "height": 800})
        page.set_content(_html_with_images(notice(renderer, locale)))
        facts = page.evaluate("""() => {
            const logo = document.querySelector('img.logo');
            const facts = document.querySelector('table.facts').getBoundingClientRect();
            const greeting = document.querySelector('table.facts').nextElementSibling
                .getBoundingClientRect();
            return {logo: logo.naturalWidth, logoShown: logo.getBoundingClientRect().width,
                    scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
                    gap: greeting.top - facts.bottom, lang: document.documentElement.lang};
        }""")
        png = page.screenshot(full_page=True)
        (tmp_path / f"email-{locale}-{width}.png").write_bytes(png)
        page.close()
        assert facts["logo"] == 500 and facts["logoShown"] == 200, facts  # loaded, 2x
        assert facts["scroll"] <= facts["inner"], f"{locale}: wider than the screen"
        assert facts["gap"] >= 16, f"{locale}: greeting glued to the facts table"
        layouts[locale] = _layout(png)
    reference = layouts["en"]
    for locale, layout in layouts.items():
        assert layout["rule"] == reference["rule"], (locale, layouts)
        assert layout["right"] == reference["right"], (locale, layouts)
        assert layout["overflow"] == 0, (locale, layout)
