"""Text analysis by hand-checked examples: lemmas and parts of speech, keywords, language."""

from __future__ import annotations

from tally.text.keywords import per_comment
from tally.text.morphology import analyse
from tally.text.pipeline import analyse_all, comments_of, summary
from tally.text.words import Language, language, normalise, tokens


def words(text: str) -> list[tuple[str, str, str | None]]:
    return [(w.word, w.lemma, w.pos) for w in (analyse(t) for t in tokens(normalise(text)))]


def test_a_russian_sentence_has_its_lemmas_and_parts_of_speech() -> None:
    assert words("Кошки быстро бежали по красивой крыше, а собаки лаяли") == [
        ("кошки", "кошка", "NOUN"),
        ("быстро", "быстро", "ADVB"),
        ("бежали", "бежать", "VERB"),
        ("по", "по", "PREP"),
        ("красивой", "красивый", "ADJF"),
        ("крыше", "крыша", "NOUN"),
        ("а", "а", "CONJ"),
        ("собаки", "собака", "NOUN"),
        ("лаяли", "лаять", "VERB"),
    ]


def test_an_english_sentence_has_its_lemmas() -> None:
    assert [(w, lemma) for w, lemma, _ in words("The mice were running over better roofs")] == [
        ("the", "the"), ("mice", "mouse"), ("were", "be"), ("running", "run"),
        ("over", "over"), ("better", "good"), ("roofs", "roof"),
    ]  # fmt: skip
    assert {pos for _, _, pos in words("cats")} == {None}  # English: lemmas only, offline


def test_normalisation_and_language() -> None:
    assert normalise("Ёлка  https://x.ru/a @user #tag СУПЕР!") == "елка супер!"
    assert tokens("what's up, мир-дружба 42 ok") == ["what's", "up", "мир-дружба", "ok"]
    assert language("Привет, world") is Language.RU
    assert language("Hello, мир and everyone") is Language.EN
    assert language("1234 :)") is Language.UNKNOWN


def test_keywords_are_the_lemmas_frequent_here_and_rare_elsewhere() -> None:
    texts = [
        "Доставка была быстрой, курьер вежливый, доставка понравилась",
        "Курьер опоздал, но товар хороший",
        "Товар пришел сломанный, возврат оформили быстро",
    ]
    analysed = [[analyse(t) for t in tokens(normalise(x))] for x in texts]
    found = per_comment(analysed, 3)
    assert found[0][0][0] == "доставка"  # twice here, nowhere else
    assert "возврат" in [k for k, _ in found[2]]
    assert not [k for row in found for k, _ in row if k in ("но", "был", "быть")]


def test_a_batch_summary_counts_languages_words_and_shared_keywords() -> None:
    comments = comments_of(["Отличный товар", {"id": "x", "text": "Great product, great price"},
                            "Товар отличный, цена отличная"])  # fmt: skip
    analysed = analyse_all(comments, top=5)
    found = summary(analysed, 3)
    assert found["languages"] == {"ru": 2, "en": 1}
    assert found["words"] == 2 + 4 + 4
    assert found["keywords"][0] == {"keyword": "отличный", "comments": 2}
    assert analysed[1].as_dict()["id"] == "x"
    assert analysed[1].as_dict()["keywords"][0]["keyword"] == "great"
