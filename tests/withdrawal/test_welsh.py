"""The withdrawal pages in Welsh for a Welsh participant: no English on them.

These compare with the Welsh catalogue, so they pass once the withdrawal Welsh
(.welsh/withdrawal.po) is merged into translations/cy and compiled."""

from __future__ import annotations

from html import unescape
from pathlib import Path

from babel.messages.pofile import read_po
from flask_babel import force_locale, gettext, ngettext

from surveyapp.withdrawal.models import SCOPE_TITLES
from tests.test_staff_language import HTML_LANG, _pattern, english_in, visible_texts

from .helpers import submitted, withdraw_from_link

SHOWN = (
    "Withdraw from the study",
    "You can withdraw at any time, without giving a reason.",
    "Your two choices",
    "What would you like to withdraw?",
    "I understand, and I want to withdraw from the study.",
    "Withdraw",
)
AFTER = ("You have withdrawn from the study",
         "The answers you gave are kept and used in the research, with your participant number, never your name.",
         "Withdraw my answers as well")


def _english_messages(app) -> dict:
    """Every catalogue message whose Welsh differs from its English, as page patterns."""
    path = Path(app.config["TRANSLATIONS_DIR"]) / "cy" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalogue = read_po(fh, locale="cy")
    messages = {}
    for message in catalogue:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and any(strings) and not set(strings) <= set(ids):
            messages.update({msgid: p for msgid in ids if (p := _pattern(msgid)) is not None})
    return messages


def _welsh(app, msgid: str) -> str:
    with app.test_request_context(), force_locale("cy"):
        return gettext(msgid)


def _check(app, page: str, shown: tuple) -> None:
    assert HTML_LANG.search(page).group(1) == "cy"
    for msgid in shown:
        welsh = _welsh(app, msgid)
        assert welsh != msgid, f"no Welsh yet for {msgid!r}"
        assert welsh in unescape(page), msgid
    assert english_in(visible_texts(page), _english_messages(app)) == []


def test_the_withdraw_pages_in_welsh(browser, study, app):
    scope = "participation"
    submitted(browser, study, "Pennaeth", "Hwb", language="cy")
    done = browser.get("/survey/done").get_data(as_text=True)
    assert _welsh(app, "You can also withdraw here, at any time and without giving a reason:") in done
    page = browser.get("/survey/withdraw").get_data(as_text=True)
    with app.test_request_context(), force_locale("cy"):
        assert str(SCOPE_TITLES["answers"]) == gettext("Withdraw my answers")
    _check(app, page, SHOWN + ("Withdraw my answers", "No further participation: keep what I gave"))
    withdraw_from_link(browser, scope, confirm=False)
    _check(app, browser.page, ("Tick the box to confirm that you want to withdraw.",))
    withdraw_from_link(browser, scope)
    _check(app, browser.get("/survey/withdrawn").get_data(as_text=True), AFTER)


def test_the_window_sentence_counts_in_welsh(app):
    with app.test_request_context(), force_locale("cy"):
        for days in (0, 1, 2, 3, 6, 14):
            text = ngettext("Your answers can be withdrawn at any time until %(num)d day after you submit them.",
                            "Your answers can be withdrawn at any time until %(num)d days after you submit them.",
                            days)
            assert text.startswith("Gellir tynnu") and f" {days} " in text


def test_the_researchers_withdrawal_pages_in_welsh(app, study):
    from tests.conftest import Browser
    from tests.invitations.conftest import sign_in_researcher

    from .helpers import participant_of, submitted_days_ago

    browser = Browser(app)
    token = submitted(browser, study, "Pennaeth", "Hwb", language="cy")
    with app.app_context():
        submitted_days_ago(token, 20)
    withdraw_from_link(browser, "answers")
    with app.app_context():
        withdrawal_id = participant_of(token).withdrawal.id
    researcher = sign_in_researcher(app, language="cy")
    page = researcher.get("/researcher/withdrawals/").get_data(as_text=True)
    _check(app, page, ("Record a withdrawal", "After the cut-off: waiting for a researcher", "Decide"))
    researcher.post("/researcher/withdrawals/new", {"participant": "P999", "received_on": "nonsense"})
    _check(app, researcher.page, ("No participant has that ID or reference. Check it and try again.",
                                  "Not a valid date value.", "Choose how they asked.", "Tick the box to confirm."))
    page = researcher.get(f"/researcher/withdrawals/{withdrawal_id}/decide").get_data(as_text=True)
    _check(app, page, ("Decide a late withdrawal", "Keep the answers", "Record the decision"))
