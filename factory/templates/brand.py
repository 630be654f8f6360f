"""A brand: name, logo, colours, fonts, contact lines and the legal footer per locale.

Takes ``assets/<brand>/brand.toml``; gives a validated `Brand` and the CSS it contributes to
every document: ``@font-face`` rules for the bundled fonts and the colours as CSS custom
properties (``--brand-primary`` ...), so template stylesheets never hard-code a colour.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from babel import Locale, UnknownLocaleError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from factory.errors import ConfigError

HEX_COLOUR = r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"
NAME = r"^[a-z][a-z0-9-]{0,31}$"
#: Content-ID of the inline email logo (RFC 2392), the same in every message.
EMAIL_LOGO_CID = "logo@docfactory"
EMAIL_IMAGES = (".png", ".jpg", ".jpeg", ".gif")


class FontFace(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    weight: int = Field(default=400, ge=100, le=900)
    style: str = Field(default="normal", pattern=r"^(normal|italic)$")


class WindowZone(BaseModel):
    """Where the envelope window is, in millimetres from the page's top-left corner."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    left: float = Field(ge=0)
    top: float = Field(ge=0)
    width: float = Field(gt=0)
    height: float = Field(gt=0)


class Brand(BaseModel):
    """``assets/<brand>/brand.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    legal_name: str = Field(min_length=1)
    logo: str
    font_family: str = Field(min_length=1)
    fonts: list[FontFace] = Field(default_factory=list)
    colours: dict[str, str]
    contact: dict[str, str] = Field(default_factory=dict)
    footer: dict[str, str]
    address_window: WindowZone | None = None
    #: The English documents are formatted in when a record's locale is ``en``: day-month
    #: order and European conventions by default (``en_US`` for an American brand).
    english: str = Field(default="en_GB", pattern=r"^en(_[A-Z]{2})?$")
    #: Where the sender is (ISO 3166 alpha-2) and the language it writes addresses in: a
    #: letter to this country has no country line, one abroad names the country in capitals
    #: in this language. Without a country, every address has its country line.
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    language: str = Field(default="en", pattern=r"^[a-z]{2}(_[A-Z]{2})?$")
    #: The logo of HTML emails: a PNG, JPEG or GIF in the brand folder, sent inline (CID) with
    #: every message (email clients do not show SVG), or an https URL the client fetches.
    email_logo: str | None = None
    email_logo_url: str | None = Field(default=None, pattern=r"^https://")
    #: How close to the paper's edge printers can print, in mm (proof layout checks).
    printable_margin: float = Field(default=5.0, ge=0, le=50)
    folder: Path = Field(default=Path(), exclude=True)

    @field_validator("english")
    @classmethod
    def _known_english(cls, value: str) -> str:
        try:
            Locale.parse(value)
        except (UnknownLocaleError, ValueError):
            raise ValueError(f"{value!r} is not a locale Babel knows") from None
        return value

    def colour_css(self) -> str:
        lines = [f"  --brand-{name}: {value};" for name, value in sorted(self.colours.items())]
        lines.append(f'  --brand-font: "{self.font_family}";')
        window = self.address_window or WindowZone(left=20, top=45, width=85, height=40)
        for name in ("left", "top", "width", "height"):
            lines.append(f"  --window-{name}: {getattr(window, name)}mm;")
        return ":root {\n" + "\n".join(lines) + "\n}\n"

    def font_css(self) -> str:
        rules = []
        for face in self.fonts:
            rules.append(
                "@font-face {\n"
                f'  font-family: "{self.font_family}";\n'
                f'  src: url("{face.file}");\n'
                f"  font-weight: {face.weight};\n"
                f"  font-style: {face.style};\n"
                "}\n"
            )
        return "".join(rules)

    def css(self) -> str:
        return self.font_css() + self.colour_css()

    def footer_for(self, locale: str, default_locale: str = "en") -> str:
        return self.footer.get(locale) or self.footer.get(default_locale) or \
            next(iter(self.footer.values()))

    @property
    def logo_path(self) -> Path:
        return self.folder / self.logo

    @property
    def email_logo_path(self) -> Path | None:
        return self.folder / self.email_logo if self.email_logo else None

    def email_logo_src(self) -> str | None:
        """What the email's ``<img src>`` says: the inline part's CID, the URL, or None."""
        if self.email_logo:
            return f"cid:{EMAIL_LOGO_CID}"
        return self.email_logo_url


def load_brand(folder: Path) -> Brand:
    """Read and check a brand folder: the TOML, the colours, and that every file exists."""
    path = folder / "brand.toml"
    if not path.is_file():
        raise ConfigError(f"{path}: brand file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        brand = Brand.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            where = ".".join(str(p) for p in error["loc"])
            if error["type"] == "extra_forbidden":
                problems.append(f"{where}: unknown key")
            else:
                problems.append(f"{where}: {error['msg']}")
        raise ConfigError(f"{path}: invalid brand", problems) from None
    brand = brand.model_copy(update={"folder": folder.resolve()})
    problems = _check(brand)
    if problems:
        raise ConfigError(f"{path}: invalid brand", problems)
    return brand


def _check(brand: Brand) -> list[str]:
    problems = []
    for name, value in brand.colours.items():
        if not re.match(NAME, name):
            problems.append(f"colours.{name}: colour names are lower-case words like 'primary'")
        if not re.match(HEX_COLOUR, value):
            problems.append(f"colours.{name}: expected a hex colour like #0b3d91, got {value!r}")
    for required in ("primary", "text"):
        if required not in brand.colours:
            problems.append(f"colours.{required}: required, missing")
    if brand.email_logo and brand.email_logo_url:
        problems.append("email_logo, email_logo_url: give one of them, not both")
    if brand.email_logo and not brand.email_logo.lower().endswith(EMAIL_IMAGES):
        problems.append(f"email_logo: {brand.email_logo!r} is not a PNG, JPEG or GIF file")
    files = [("logo", brand.logo)]
    if brand.email_logo:
        files.append(("email_logo", brand.email_logo))
    files += [(f"fonts[{i}].file", f.file) for i, f in enumerate(brand.fonts)]
    for where, relative in files:
        target = (brand.folder / relative).resolve()
        if not target.is_relative_to(brand.folder):
            problems.append(f"{where}: {relative!r} is outside the brand folder")
        elif not target.is_file():
            problems.append(f"{where}: file {relative!r} not found in {brand.folder}")
    if not brand.footer:
        problems.append("footer: at least one locale's legal footer is required")
    return problems
