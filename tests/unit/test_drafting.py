from knowledge.models import Passage
from worker.config import CategoryConfig
from worker.drafting import SentenceVectors, draft, missing_facts, split_sentences, word_count
from worker.models import Triage

from .fakes import BagOfWordsEmbedder, message, ticket

EMB = BagOfWordsEmbedder()
SHIPPING = Passage(
    chunk_id="hc-1#0",
    article_id="hc-1",
    title="Shipping times",
    text="## Standard shipping\nStandard shipping takes 3 to 5 business days. Express shipping takes 1 to 2 business days. "
    "Our warehouse is closed on public holidays.",
    score=0.8,
    url="https://help.example/hc-1",
)
RETURNS = Passage(
    chunk_id="hc-2#0", article_id="hc-2", title="Return policy", text="You can return items within 30 days of delivery.", score=0.5
)


def tri(role="draft", category="shipping", risks=()):
    return Triage(category=category, confidence=0.9, role=role, urgency="normal", sentiment="neutral", language="en", risks=risks, label="Shipping")


def run(body, role="draft", passages=(SHIPPING, RETURNS), category=CategoryConfig(role="draft", examples=["x"]), max_words=120):
    t = ticket(message(1, body))
    return draft(
        t, tri(role), list(passages), query_vec=EMB.embed([body])[0], sentences=SentenceVectors(EMB), category=category, max_words=max_words
    )


def test_draft_quotes_supporting_sentences_with_citations():
    d = run("How many business days does standard shipping take?")
    assert d.has_draft
    assert "Standard shipping takes 3 to 5 business days. [1]" in d.body
    assert d.citations[0] is SHIPPING
    assert "## Standard shipping" not in d.body
    # every sentence carries a citation that resolves to a passage
    for line in d.body.replace(". ", ".\n").splitlines():
        if line.strip().endswith("]"):
            n = int(line.strip().rsplit("[", 1)[1].rstrip("]"))
            assert 1 <= n <= len(d.citations)


def test_no_passage_means_no_draft_and_says_so():
    d = run("How many business days does standard shipping take?", passages=())
    assert not d.has_draft and d.citations == ()
    assert "No approved help-center source" in d.reason


def test_unrelated_passages_give_no_draft():
    d = run("zzz qqq", passages=(RETURNS,))
    assert not d.has_draft
    assert "do not answer this message closely enough" in d.reason


def test_max_words_is_respected():
    d = run("shipping business days standard express holidays warehouse", max_words=12)
    assert d.has_draft and word_count(d.body) <= 12


def test_escalate_only_never_drafts():
    d = run("How many business days does standard shipping take?", role="escalate_only")
    assert not d.has_draft and d.escalate and d.citations == ()
    assert "escalate-only" in d.reason
    assert d.summary.startswith("Customer writes:")


def test_summary_only_summarises_and_lists_policy_sources():
    d = run("I want to return my kettle and get a refund please.", role="summary_only")
    assert not d.has_draft and not d.escalate
    assert "I want to return my kettle" in d.summary
    assert d.citations == (SHIPPING, RETURNS)


def test_missing_facts_are_listed_and_asked_for():
    cat = CategoryConfig(role="draft", examples=["x"], requires=["order_number"])
    d = run("How many business days does standard shipping take for my order?", category=cat)
    assert d.missing_info == ("order number",)
    assert d.body.endswith("Could you please send me your order number?")
    assert word_count(d.body) <= 120
    t = ticket(message(1, "Where is my order #123456?"))
    assert missing_facts(t, cat) == ()


def test_a_general_question_needs_no_order_number():
    cat = CategoryConfig(role="draft", examples=["x"], requires=["order_number"])
    assert missing_facts(ticket(message(1, "How many business days does standard shipping take?")), cat) == ()
    assert missing_facts(ticket(message(1, "What is your return policy for sale items?")), cat) == ()
    assert missing_facts(ticket(message(1, "I ordered a kettle last week and it has not arrived")), cat) == ("order number",)
    assert missing_facts(ticket(message(1, "¿Dónde está mi pedido?")), cat) == ("order number",)
    d = run("How many business days does standard shipping take?", category=cat)
    assert d.missing_info == () and "order number" not in d.body


def test_split_sentences_keeps_list_items():
    text = "## Steps\n1. Open the app. Then wait.\n2. Press reset.\nDone. All good!"
    assert split_sentences(text) == ["1. Open the app. Then wait.", "2. Press reset.", "Done.", "All good!"]


def test_citations_are_numbered_per_article_and_repeats_dropped():
    a0 = Passage(chunk_id="a#0", article_id="a", title="A", text="Standard shipping takes 3 to 5 business days.", score=0.9)
    a1 = Passage(chunk_id="a#1", article_id="a", title="A", text="Standard shipping takes 3 to 5 business days, always.", score=0.8)
    b = Passage(chunk_id="b#0", article_id="b", title="B", text="Express shipping takes 1 to 2 business days.", score=0.85)
    d = run("How many business days does standard or express shipping take?", passages=(a0, a1, b))
    assert [c.article_id for c in d.citations] == ["a", "b"]
    assert d.body.count("Standard shipping takes 3 to 5 business days") == 1  # the near-duplicate is dropped
    assert "[1]" in d.body and "[2]" in d.body and "[3]" not in d.body


def test_markdown_emphasis_and_cross_references_never_reach_the_draft():
    p = Passage(chunk_id="c#0", article_id="c", title="C",
                text="Standard shipping shows as **Shipped** after dispatch in business days. See \"How do I track my parcel?\" for shipping details.", score=0.9)
    d = run("standard shipping business days shipped dispatch", passages=(p,))
    assert "Standard shipping shows as Shipped after dispatch in business days. [1]" in d.body
    assert "**" not in d.body and "See" not in d.body


def test_a_sentence_pointing_above_or_below_is_not_quoted_alone():
    # demo: "one of the settings below is usually the reason" opened a draft whose settings were not below
    p = Passage(chunk_id="s#0", article_id="s", title="Schedule", score=0.9,
                text="If the heating schedule is not followed, one of the settings below is usually the reason. "
                     "Check the heating schedule socket as above. "
                     "The heating schedule follows the clock and time zone set in the app. "
                     "The heating schedule pauses when the temperature drops below 5 degrees.")
    d = run("heating schedule not followed clock time zone temperature", passages=(p,))
    assert "The heating schedule follows the clock and time zone set in the app. [1]" in d.body
    assert "drops below 5 degrees" in d.body  # a quantity, not a reference
    assert "settings below" not in d.body and "as above" not in d.body


def test_a_lead_in_pointing_below_travels_with_its_list():
    p = Passage(chunk_id="l#0", article_id="l", title="Kettle", score=0.9,
                text="Check the kettle points below:\n- The kettle base is plugged in.\n- The kettle lid is closed.")
    d = run("kettle base plugged lid closed points", passages=(p,))
    assert "Check the kettle points below: [1]" in d.body and "- The kettle lid is closed. [1]" in d.body


def test_only_passages_close_to_the_best_one_are_quoted():
    best = Passage(chunk_id="eu#0", article_id="eu", title="EU", text="Standard shipping within the EU takes 3 to 5 business days.", score=0.60)
    weaker = Passage(chunk_id="intl#0", article_id="intl", title="Intl", text="Shipping outside the EU takes 7 to 12 business days.", score=0.45)
    d = run("How many business days does shipping take?", passages=(best, weaker))
    assert "3 to 5 business days" in d.body and "7 to 12" not in d.body
    assert [c.article_id for c in d.citations] == ["eu"]


def test_steps_are_quoted_whole_and_in_order():
    p = Passage(chunk_id="r#0", article_id="r", title="Reset", score=0.9,
                text="To reset the thermostat:\n1. Hold the dial for ten seconds.\n2. Wait for the ring to blink.\n3. Reconnect the thermostat in the app.")
    d = run("How do I reset the thermostat dial and reconnect it in the app?", passages=(p,))
    assert "1. Hold the dial for ten seconds. [1]\n2. Wait for the ring to blink. [1]\n3. Reconnect the thermostat in the app. [1]" in d.body


def test_a_sentence_leaning_on_the_previous_one_keeps_it():
    p = Passage(chunk_id="k#0", article_id="k", title="Kettle", score=0.9,
                text="The kettle has a reset button under the base. It restores the thermostat after a dry boil.")
    d = run("restores thermostat dry boil", passages=(p,))
    assert "The kettle has a reset button under the base. [1] It restores the thermostat after a dry boil. [1]" in d.body


def test_a_step_list_too_long_for_the_draft_keeps_its_first_steps_and_the_note_says_it_is_cut():
    steps = "\n".join(f"{i}. Check the thermostat dial setting number {i} carefully today." for i in range(1, 8))
    p = Passage(chunk_id="t#0", article_id="t", title="Dial check", score=0.9, text=steps, url="https://h/dial")
    d = run("check the thermostat dial setting carefully", passages=(p,), max_words=40)
    assert [line.split(".")[0] for line in d.body.splitlines()] == ["1", "2", "3"]
    assert "Procedure cut: the draft quotes steps 1–3 of 7; the full procedure is in “Dial check (https://h/dial)”." in d.remarks
    assert word_count(d.body) <= 40
    whole = run("check the thermostat dial setting carefully", passages=(p,), max_words=120)
    assert [line.split(".")[0] for line in whole.body.splitlines()] == [str(i) for i in range(1, 8)]


def test_an_escalation_caused_by_a_risk_flag_says_so_not_that_the_category_escalates():
    body = "My parcel is late and I don't want to live anymore"
    d = draft(ticket(message(1, body)), tri("escalate_only", risks=("self_harm",)), [SHIPPING], query_vec=EMB.embed([body])[0],
              sentences=SentenceVectors(EMB), category=CategoryConfig(role="draft", examples=["x"]))
    assert not d.has_draft and d.escalate
    assert d.reason.startswith("Escalated because of risk flag(s) self_harm") and "escalate-only" not in d.reason


def test_lists_under_different_headings_stay_apart_and_keep_their_lead_in():
    p = Passage(chunk_id="h#0", article_id="h", title="Hearth", score=0.9, text=(
        "## Works with Hearth\n- Gas boilers with a thermostat wire.\n- Heat pumps with an on/off signal.\n"
        "## Does not work with Hearth\n- Electric heaters on a wall socket.\n- District heating without a boiler."))
    d = run("Does Hearth work with heat pumps and gas boilers?", passages=(p,))
    assert "Gas boilers" in d.body and "Heat pumps" in d.body
    assert "Electric heaters" not in d.body or "Gas boilers" not in d.body  # never one merged list
    q = Passage(chunk_id="c#0", article_id="c", title="Charged twice", score=0.9, text=(
        "If both amounts are still there after 7 days:\n1. Find your order number.\n2. Note the date of each charge."))
    d2 = run("both amounts still there after 7 days, find order number and date of each charge", passages=(q,))
    assert "If both amounts are still there after 7 days: [1]\n1. Find your order number. [1]\n2. Note the date of each charge. [1]" in d2.body


def test_stale_sources_are_marked_in_the_note_and_the_draft_keeps_its_word_budget():
    from dataclasses import replace

    from tests.draftkit import CATEGORIES, DRAFTING, EMB, ROUTING, SENTENCES, retrieve, triage_for
    from worker.drafting import compose_draft
    from worker.notes import render_note

    text = "How long does standard delivery take, and when are orders dispatched?"
    stale = [replace(p, stale=True, updated_at="2024-01-15T00:00:00Z") for p in retrieve(text)]
    t = ticket(message(1, text))
    for max_words in (120, 25):
        d = compose_draft(t, triage_for("draft"), stale, query_vec=EMB.embed([text])[0], sentences=SENTENCES,
                          category=CATEGORIES["draft"], max_words=max_words, drafting=DRAFTING)
        note = render_note(t, "m1", triage_for("draft"), d, ROUTING.model_copy(update={"stale_source_tags": ["stale_source"]}),
                           "test", stale_after_days=365)
        assert d.has_draft and word_count(d.body) <= max_words and "stale" not in d.body
        assert "(updated 2024-01-15) — stale: older than 365 days" in note.html
        assert "deskhand_stale_source" in note.tags


def test_a_how_to_question_is_answered_with_the_numbered_steps_before_a_sentence_that_also_matches():
    intro = Passage(chunk_id="w#0", article_id="w", title="Wi-Fi set-up", score=0.75,
                    text="Hearth connects to your home Wi-Fi network so you can use the app.")
    steps = Passage(chunk_id="w#1", article_id="w", title="Wi-Fi set-up", score=0.60, section="Connect Hearth to your Wi-Fi network",
                    text="1. Hold the dial until the Wi-Fi ring pulses.\n2. Pick Hearth in the app.\n3. Enter your Wi-Fi network password.")
    d = run("How do I connect Hearth to my Wi-Fi network?", passages=(intro, steps), max_words=40)
    assert "1. Hold the dial until the Wi-Fi ring pulses. [1]" in d.body
    assert "connects to your home Wi-Fi" not in d.body  # the steps took the room a how-to question needs
    plain = run("Does Hearth connect to my Wi-Fi network?", passages=(intro, steps), max_words=40)
    assert "Hearth connects to your home Wi-Fi network" in plain.body.splitlines()[0]


def test_a_cut_bulleted_list_is_called_a_list_not_a_procedure():
    items = "\n".join(f"- Requirement {i}: the thermostat dial setting must be checked carefully." for i in range(1, 7))
    p = Passage(chunk_id="b#0", article_id="b", title="Before you start", score=0.9, text=items, url="https://h/b")
    d = run("thermostat dial setting requirement checked carefully", passages=(p,), max_words=40)
    assert d.body.count("- Requirement") == 3
    assert "List cut: the draft quotes 3 of 6 items; the full list is in “Before you start (https://h/b)”." in d.remarks
    assert not any(r.startswith("Procedure cut") for r in d.remarks)


def test_a_heading_lead_in_with_one_step_is_not_a_quoted_procedure():
    p = Passage(chunk_id="h#0", article_id="h", title="Reset", score=0.9, section="Reset the thermostat dial",
                text="1. Hold the thermostat dial for ten long seconds until it blinks.\n"
                     "2. Wait for the thermostat dial ring to blink green twice.\n3. Reconnect.")
    d = run("reset the thermostat dial hold ten seconds blink", passages=(p,), max_words=22)
    assert "1. Hold" not in d.body  # "Reset the thermostat dial:" plus one step is not steps 1–1 of 3
    assert "Procedure cut: the full procedure (3 steps) is in “Reset”: it does not fit the draft." in d.remarks


def test_a_bulleted_list_left_out_whole_is_not_mentioned():
    answer = Passage(chunk_id="s#0", article_id="s", title="Shipping", score=0.9,
                     text="Standard shipping takes 3 to 5 business days for every order we ship.")
    bullets = "\n".join(f"- Shipping note {i}: standard shipping business days vary for remote islands and territories." for i in range(1, 7))
    extra = Passage(chunk_id="s#1", article_id="s", title="Shipping", score=0.85, text=bullets)
    d = run("How many business days does standard shipping take?", passages=(answer, extra), max_words=25)
    assert "Standard shipping takes 3 to 5 business days" in d.body and "- Shipping note" not in d.body
    assert not any(r.startswith(("List cut", "Procedure cut")) for r in d.remarks)


def test_what_should_i_do_takes_the_numbered_procedure_first_even_when_its_words_differ():
    symptom = Passage(chunk_id="o#0", article_id="o", title="Offline", score=0.8,
                      text="When the thermostat is offline the app shows offline and the ring blinks amber since yesterday.")
    steps = Passage(chunk_id="o#1", article_id="o", title="Offline", score=0.7, section="Reconnect",
                    text="1. Check the router works for the thermostat.\n2. Restart the thermostat ring.\n3. Enter the new router details.")
    body = "My thermostat is offline in the app and the ring blinks amber since yesterday. What should I do to get it back?"
    d = run(body, passages=(symptom, steps), max_words=30)
    assert "3. Enter the new router details. [1]" in d.body
    assert "ring blinks amber since yesterday" not in d.body  # restating the symptom lost the room to the steps


def test_no_cut_line_about_another_procedure_when_the_draft_quotes_one_whole():
    track = Passage(chunk_id="t#0", article_id="t", title="Track your parcel", score=0.9, section="Track your parcel",
                    text="1. Open the tracking parcel link.\n2. Enter the parcel tracking number.\n3. Check the parcel status.")
    other = Passage(chunk_id="t#1", article_id="t", title="Track your parcel", score=0.85, section="Tracking parcel says delivered",
                    text="\n".join(f"{i}. Check the parcel tracking with neighbours and the carrier page number {i} today." for i in range(1, 6)))
    d = run("How do I track my parcel with the tracking number?", passages=(track, other), max_words=45)
    assert "3. Check the parcel status. [1]" in d.body
    assert not any(r.startswith("Procedure cut") for r in d.remarks)


def test_it_is_named_only_after_a_product_a_title_also_names():
    from worker.drafting import named_question

    kettle = Passage(chunk_id="k#0", article_id="k", title="Why won't my Brew Kettle switch on?", text="x", score=0.5)
    assert named_question("Can I descale it?", "Hi Daan, my Brew Kettle from November is noisy.", [kettle]) == "Can I descale Kettle?"
    assert named_question("Can I descale it?", "Hi Daan, my kettle from November is noisy.", [kettle]) == "Can I descale it?"
    assert named_question("Why is the kettle noisy?", "My Brew Kettle is noisy.", [kettle]) == "Why is the kettle noisy?"
    # "Why" opens the title: a title's first word is no product name
    assert named_question("Why is it noisy?", "Why? It is noisy.", [kettle]) == "Why is it noisy?"


def test_a_bare_link_or_number_gets_no_draft():
    from worker.drafting import THIN_REQUEST, too_little_to_answer

    d = run("https://larkspur.example/orders/LK-4830571 shipping")
    assert not d.has_draft and d.reason == THIN_REQUEST
    assert too_little_to_answer(ticket(message(1, "LK-4830571 jo@example.com")))
    assert not too_little_to_answer(ticket(message(1, "https://larkspur.example/orders/LK-4830571"), subject="Where is my order?"))
    assert not too_little_to_answer(ticket(message(1, "refund pls")))
    assert run("How many business days does standard shipping take? Order LK-4830571").has_draft


def test_table_rows_and_sentences_about_the_article_are_not_reply_material():
    p = Passage(chunk_id="e#0", article_id="e", title="Express delivery", score=0.9,
                text="This article covers express delivery costs in the EU.\n"
                     "| Express delivery (1–2 business days) | EU | €9.95 |\n"
                     "Express delivery is free on EU orders of €100 or more.")
    d = run("express delivery costs EU free orders business days", passages=(p,))
    assert "Express delivery is free on EU orders of €100 or more. [1]" in d.body
    assert "|" not in d.body and "This article" not in d.body
