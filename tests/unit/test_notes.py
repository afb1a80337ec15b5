from knowledge.models import Passage
from worker.config import RouteConfig, RoutingConfig
from worker.models import Draft, Triage
from worker.notes import parse_marker, render_note, route

from .fakes import message, ticket

ROUTING = RoutingConfig(
    tag_prefix="dh_",
    always_tags=["triaged"],
    unknown=RouteConfig(tags=["needs_human_triage"], group="900"),
    categories={"billing": RouteConfig(tags=["billing"], group="77")},
    urgency_tags={"urgent": ["urgent"]},
    role_tags={"constrained_draft": ["constrained"]},
    no_draft_tags=["no_source"],
)
P = Passage(chunk_id="a#0", article_id="a", title="Charged twice?", text="…", score=0.7, url="https://h/a", updated_at="2026-10-02T00:00:00Z")


def tri(category="billing", role="constrained_draft", urgency="urgent"):
    return Triage(category=category, confidence=0.82, role=role, urgency=urgency, sentiment="negative", language="en", label="Billing › Charges", reasons=("nearest examples: billing 0.82",))


def test_note_shape_and_marker():
    d = Draft(body="A pending authorisation drops off within 7 days. [1]\nCould you please send me your order number?", citations=(P,), missing_info=("order number",))
    note = render_note(ticket(message(1, "charged twice")), "m1", tri(), d, ROUTING, "0.1.0")
    assert note.html.startswith("<p><strong>Deskhand</strong> · Billing › Charges · urgency urgent · negative · en · confidence 0.82</p>")
    assert "<strong>Draft reply (review before sending):</strong><br>A pending authorisation drops off within 7 days. [1]<br>Could you" in note.html
    assert '[1] <a href="https://h/a">Charged twice?</a> (updated 2026-10-02)' in note.html
    assert "<strong>Missing before you reply:</strong> order number" in note.html
    assert parse_marker(note.html) == {"ticket": "42", "message": "m1", "pipeline": "0.1.0"}
    assert note.tags == ("dh_triaged", "dh_billing", "dh_urgent", "dh_constrained")
    assert note.group == "77"


def test_no_draft_note_says_why_and_tags_no_source():
    d = Draft(body="", citations=(), reason="No approved help-center source supports a reply, so there is no draft.")
    note = render_note(ticket(message(1, "x")), "m1", tri(), d, ROUTING, "0.1.0")
    assert "<strong>No draft:</strong> No approved help-center source" in note.html
    assert "Draft reply" not in note.html
    assert "dh_no_source" in note.tags and "dh_constrained" not in note.tags


def test_unknown_routes_to_human_triage():
    d = Draft(body="", citations=(), escalate=True, reason="route it for human triage", summary="Customer writes: “hi”")
    note = render_note(ticket(message(1, "x")), "m1", tri(category="unknown", role="escalate_only", urgency="normal"), d, ROUTING, "0.1.0")
    assert note.tags == ("dh_triaged", "dh_needs_human_triage")
    assert note.group == "900"
    assert "<strong>Escalation (no draft):</strong> route it for human triage" in note.html


def test_placeholders_and_html_in_text_are_escaped():
    d = Draft(body="Use {{ticket.requester.email}} <script>x</script> [1]", citations=(P,))
    note = render_note(ticket(message(1, "x")), "m1", tri(), d, ROUTING, "0.1.0")
    assert "{{" not in note.html and "<script>" not in note.html
    assert "&#123;&#123;ticket.requester.email&#125;&#125;" in note.html


def test_route_dedupes_and_prefixes():
    tags, _ = route(tri(), Draft(body="x", citations=(P,)), ROUTING.model_copy(update={"always_tags": ["billing"]}))
    assert tags == ("dh_billing", "dh_urgent", "dh_constrained")


def test_parse_marker_ignores_other_text():
    assert parse_marker("thanks, deskhand!") is None
