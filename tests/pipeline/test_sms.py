"""SMS text: GSM-7 or UCS-2, length in units, segments; transliteration to GSM-7 by the
official romanisation of each language, checked on real sentences."""

from __future__ import annotations

import pytest

from factory.messages.sms import GSM7, UCS2, analyse, gsm_septets, is_gsm7
from factory.messages.translit import to_gsm7

pytestmark = pytest.mark.fast

CZECH = "Dobrý den, Vaše smlouva o účtu se 31. 12. 2026 prodlužuje. Děkujeme, Northwind Bank."
SLOVAK = "Dobrý deň, ďakujeme, že ste s nami. Vaša zmluva sa predlžuje o rok."
UKRAINIAN = ("Шановний клієнте, ваш договір рахунку продовжується 31 грудня 2026 р."
             " До цієї дати його можна безкоштовно розірвати.")
BULGARIAN = ("Уважаеми клиенти, договорът Ви за сметка се подновява на 31.12.2026 г."
             " Дотогава можете да го прекратите безплатно.")


def test_plain_ascii_is_gsm7_and_160_septets_fit_one_message() -> None:
    assert analyse("a" * 160) == analyse("a" * 160)
    one = analyse("a" * 160)
    assert (one.encoding, one.units, one.segments) == (GSM7, 160, 1)
    two = analyse("a" * 161)
    assert (two.encoding, two.units, two.segments) == (GSM7, 161, 2)
    assert analyse("a" * 306).segments == 2      # 2 × 153
    assert analyse("a" * 307).segments == 3
    assert analyse("").segments == 0


def test_gsm_extension_characters_count_twice() -> None:
    for char in "€[]{}\\~^|":
        assert gsm_septets(char) == 2, char
    for char in "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà":
        assert gsm_septets(char) == 1, char
    euros = analyse("€" * 80)
    assert (euros.encoding, euros.units, euros.segments) == (GSM7, 160, 1)
    assert analyse("€" * 81).segments == 2
    price = analyse("Cena: 12,50 € [sleva]")
    assert price.encoding == GSM7 and price.units == len("Cena: 12,50 € [sleva]") + 3


def test_an_escape_sequence_is_never_split_between_segments() -> None:
    # 152 septets, then € (2 septets) would straddle the 153-septet boundary: it moves whole.
    text = "a" * 152 + "€" + "a" * 10
    facts = analyse(text)
    assert facts.units == 164 and facts.segments == 2
    assert analyse("a" * 152 + "€" + "a" * 152).segments == 3   # 152 | 2+151 | 1


@pytest.mark.parametrize(("text", "units", "segments"), [
    (CZECH, len(CZECH), 2),          # ý, ů, ě... are not GSM-7: UCS-2, 70/67 per segment
    (SLOVAK, len(SLOVAK), 1),
    (UKRAINIAN, len(UKRAINIAN), 2),
    (BULGARIAN, len(BULGARIAN), 2),
])
def test_czech_slovak_ukrainian_bulgarian_need_ucs2(text: str, units: int,
                                                    segments: int) -> None:
    facts = analyse(text)
    assert facts.encoding == UCS2
    assert facts.units == units
    assert facts.segments == segments


def test_ucs2_limits_and_emoji_take_two_units_never_split() -> None:
    assert analyse("ж" * 70).segments == 1
    assert analyse("ж" * 71).segments == 2
    assert analyse("ж" * 134).segments == 2
    assert analyse("ж" * 135).segments == 3
    smile = analyse("Díky 😀")
    assert (smile.encoding, smile.units, smile.characters) == (UCS2, 7, 6)
    assert analyse("😀" * 35).segments == 1
    assert analyse("😀" * 36).segments == 2
    # 66 units then an emoji (2 units) straddling the 67-unit boundary: it moves whole, so
    # 134 units need 3 segments here where dividing by 67 would say 2.
    assert analyse("ж" * 66 + "😀" + "ж" * 65).segments == 2
    assert analyse("ж" * 66 + "😀" + "ж" * 66).segments == 3
    assert not is_gsm7("emoji 😀")


@pytest.mark.parametrize(("text", "expected"), [
    ("Шановний клієнте", "Shanovnyi kliiente"),
    ("Юрій Їжакевич", "Yurii Yizhakevych"),
    ("Єнакієве, Знам'янка, Згурівка", "Yenakiieve, Znamianka, Zghurivka"),
    ("Київ, Україна, Яготин, Йосипівка", "Kyiv, Ukraina, Yahotyn, Yosypivka"),
    ("Троєщина, Щербухи, Ганна Олійник", "Troieshchyna, Shcherbukhy, Hanna Oliinyk"),
    ("ЩО ВАЖЛИВО", "SHCHO VAZHLYVO"),
])
def test_ukrainian_follows_the_2010_national_system(text: str, expected: str) -> None:
    assert to_gsm7(text, "uk") == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("България, София", "Bulgaria, Sofia"),
    ("Уважаеми клиенти", "Uvazhaemi klienti"),
    ("Щастие, Христо Стоянов", "Shtastie, Hristo Stoyanov"),
    ("Цветелина Йорданова, Ючбунар", "Tsvetelina Yordanova, Yuchbunar"),
    ("Стара Загора, Благоевград", "Stara Zagora, Blagoevgrad"),
    ("ъгъл, път", "agal, pat"),
])
def test_bulgarian_follows_the_streamlined_system(text: str, expected: str) -> None:
    assert to_gsm7(text, "bg") == expected


def test_czech_and_slovak_lose_their_diacritics_and_typography() -> None:
    assert to_gsm7("Příliš žluťoučký kůň úpěl ďábelské ódy", "cs") == \
        "Prilis zlutoucky kun upel dabelske ody"
    assert to_gsm7("Ľúbostný vzťah, ôsmy deň, mäso", "sk") == "Lubostny vzťah, osmy den, maso" \
        .replace("ť", "t")
    assert to_gsm7("„Děkujeme“ – 1\u00a0234,50\u00a0Kč…", "cs") == '"Dekujeme" - 1 234,50 Kc...'
    assert to_gsm7("Cena 12 € [akce]", "cs") == "Cena 12 € [akce]"
    assert to_gsm7("Díky 😀", "cs") == "Diky"


@pytest.mark.parametrize(("text", "locale"), [
    (CZECH, "cs"), (SLOVAK, "sk"), (UKRAINIAN, "uk"), (BULGARIAN, "bg")])
def test_transliteration_gives_gsm7_and_cuts_segments(text: str, locale: str) -> None:
    before = analyse(text)
    after = analyse(to_gsm7(text, locale))
    assert after.encoding == GSM7
    assert after.segments <= before.segments
    assert after.segments == 1
