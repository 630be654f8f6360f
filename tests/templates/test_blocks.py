"""Editable blocks of interactive letters: the sanitiser keeps only the markup a block declares
(paragraphs, bold, italics, lists) and drops scripts, styles, event handlers, links, images;
over-long and empty blocks are refused naming the block; templates render a block only through
``block()``, which sanitises again; a set's manifest declares the blocks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from factory.errors import ConfigError, RecordError, TemplateError
from factory.templates.blocks import (
    LETTER_KEY,
    BlockError,
    BlockSpec,
    check_blocks,
    with_sample_letter,
)
from factory.templates.environment import build_environment
from factory.templates.templateset import TemplateSet
from tests.conftest import REPO

pytestmark = pytest.mark.fast

ALL = BlockSpec(name="answer", label={"en": "Our answer", "cs": "Naše odpověď"},
                max_length=200)
HOSTILE = (
    '<script>alert("x")</script><style>p { color: red }</style>'
    '<p onclick="steal()" style="color:red" class="x">Dear <b onmouseover="x()">customer</b>,'
    ' <a href="javascript:alert(1)">click</a> <a href="https://evil.example">here</a>'
    ' <img src="https://evil.example/t.png" onerror="x()"> <iframe src="//evil"></iframe>'
    '<svg onload="x()"><circle/></svg><!-- a comment --></p>'
)


def test_scripts_styles_handlers_links_and_images_are_stripped() -> None:
    cleaned = ALL.clean(HOSTILE)
    for gone in ("<script", "alert", "<style", "color", "onclick", "onmouseover", "onerror",
                 "onload", "<a", "href", "javascript", "evil", "<img", "<iframe", "<svg",
                 "class=", "comment"):
        assert gone not in cleaned, (gone, cleaned)
    assert cleaned.startswith("<p>Dear <b>customer</b>,")
    assert "click" in cleaned and "here" in cleaned  # a link's text stays, as text


def test_allowed_tags_are_kept_and_plain_paragraphs_wrapped() -> None:
    text = ("We are <strong>sorry</strong>, <em>truly</em> <i>so</i>.\n\n"
            "<ul><li>a refund</li><li>a <b>gift</b></li></ul>\n\n<ol><li>one</li></ol>\n\n"
            "<p>Kept as it is.</p>\r\n\r\nLast line.")
    assert ALL.clean(text) == (
        "<p>We are <strong>sorry</strong>, <em>truly</em> <i>so</i>.</p>"
        "<ul><li>a refund</li><li>a <b>gift</b></li></ul><ol><li>one</li></ol>"
        "<p>Kept as it is.</p><p>Last line.</p>")


def test_a_block_allows_only_the_markup_it_declares() -> None:
    bold_only = BlockSpec(name="remedy", label="What we do", markup=("bold",))
    assert bold_only.clean("<p>A <b>B</b> <i>C</i></p><ul><li>D</li></ul>") == "A <b>B</b> CD"
    assert bold_only.tags == {"b", "strong"}
    assert ALL.tags == {"p", "b", "strong", "i", "em", "ul", "ol", "li"}


def test_over_long_empty_and_unknown_blocks_are_refused_naming_the_block() -> None:
    with pytest.raises(BlockError) as caught:
        ALL.check("x" * 201)
    assert "'answer'" in str(caught.value) and "201" in str(caught.value)
    assert "at most 200" in str(caught.value)
    assert isinstance(caught.value, RecordError) and caught.value.field == "blocks.answer"
    assert ALL.check("x" * 200) == "<p>" + "x" * 200 + "</p>"
    with pytest.raises(BlockError, match=r"'answer' .* is empty"):
        ALL.check("<script>only a script</script>  ")
    optional = BlockSpec(name="ps", label="P.S.", required=False)
    assert optional.check("") == ""
    with pytest.raises(BlockError, match="'extra' is not a block"):
        check_blocks([ALL], {"answer": "ok", "extra": "x"})
    assert check_blocks([ALL, optional], {"answer": "ok"}) == {"answer": "<p>ok</p>", "ps": ""}


def test_labels_per_language_fall_back_to_english() -> None:
    assert ALL.label_for("cs") == "Naše odpověď"
    assert ALL.label_for("bg") == "Our answer"
    assert BlockSpec(name="x", label="One label").label_for("uk") == "One label"


@pytest.fixture
def letter_set(tmp_path: Path) -> TemplateSet:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates" / "_shared", templates / "_shared")
    shutil.copytree(REPO / "templates" / "complaint_letter", templates / "complaint_letter")
    return TemplateSet.load(templates, REPO / "assets", "complaint_letter", "northwind")


def test_block_renders_sanitised_again_and_needs_a_letter(letter_set: TemplateSet) -> None:
    manifest = letter_set.manifest
    assert [b.name for b in manifest.blocks] == ["answer", "remedy"]
    assert manifest.require_second_person and manifest.interactive
    env = build_environment(letter_set)
    template = env.from_string('<div>{{ block("answer") }}</div>')
    # What was stored is not trusted: a letter edited in the index is cleaned when rendered.
    stored = {LETTER_KEY: {"blocks": {"answer": "<b>ok</b><script>x()</script>"}}}
    assert template.render(record=stored) == "<div><p><b>ok</b></p></div>"
    with pytest.raises(TemplateError, match="carries no letter"):
        template.render(record={"name": "x"})
    with pytest.raises(TemplateError, match="no such block"):
        env.from_string('{{ block("nope") }}').render(record=stored)
    sampled = with_sample_letter({"name": "x"}, manifest.blocks)
    assert "refund the fee" in env.from_string('{{ block("remedy") }}').render(record=sampled)


def test_the_manifest_refuses_duplicate_blocks_and_four_eyes_without_blocks(
        letter_set: TemplateSet) -> None:
    manifest = letter_set.set_dir / "set.toml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace('name = "remedy"', 'name = "answer"'), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        TemplateSet.load(letter_set.templates_dir, letter_set.assets_dir, "complaint_letter",
                         "northwind")
    assert "block 'answer' is declared twice" in "\n".join(caught.value.problems)
    kept = text.split("[[blocks]]")[0]
    manifest.write_text(kept, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        TemplateSet.load(letter_set.templates_dir, letter_set.assets_dir, "complaint_letter",
                         "northwind")
    assert "require_second_person needs" in "\n".join(caught.value.problems)
    manifest.write_text(kept + '[[blocks]]\nname = "x"\nlabel = "X"\nmarkup = ["links"]\n',
                        encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid template set manifest"):
        TemplateSet.load(letter_set.templates_dir, letter_set.assets_dir, "complaint_letter",
                         "northwind")
