"""The browsers' side of each web figure, and reading the database back afterwards."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

import sqlalchemy as sa

from bench.bare import BARE_TABLE
from bench.client import Connection, HTTPError, expect, hidden

AUTOSAVE_SECTION, AUTOSAVE_QUESTION = 2, "aims"
# About 200 characters of Welsh per save, different every time (the revision must move).
FILLER = "Mae'r tîm yn ymateb i bryderon diogelu o fewn diwrnod gwaith; ŵ ŷ â ô. " * 3


def answer_text(tag: str, index: int, sequence: int) -> str:
    return f"{tag}#{index}|{sequence}| {FILLER}"


@dataclass
class Browser:
    """One simulated participant (or bare client) and what it knows of its answer."""

    connection: Connection
    index: int
    tag: str
    csrf: str = ""
    page_tag: str = ""
    revision: int = 0
    sequence: int = 0
    saved: int = 0
    last_saved: str | None = None
    unconfirmed: list[str] = field(default_factory=list)  # sent after the last confirmed save


# -- participants, reached as a browser reaches them -------------------------------------------

async def new_participant(browser: Browser, slug: str, section: int) -> None:
    """Open link, Welsh, consent to every item, then the section page (its CSRF and tag)."""
    conn = browser.connection
    page = expect(await conn.request("GET", f"/s/{slug}"), 200, what="open link").text
    expect(await conn.request("POST", f"/s/{slug}", {"csrf_token": hidden(page, "csrf_token"), "language": "cy"}),
           302, 303, what="choose a language")
    page = expect(await conn.request("GET", "/survey/consent"), 200, what="consent page").text
    form = {"csrf_token": hidden(page, "csrf_token"), "_participant": hidden(page, "_participant")}
    for name in sorted(set(re.findall(r'name="(item_[^"]+)"', page))):
        form[name] = "y"
    expect(await conn.request("POST", "/survey/consent", form), 302, 303, what="consent")
    await open_section(browser, section)


async def open_section(browser: Browser, section: int) -> str:
    page = expect(await browser.connection.request("GET", f"/survey/section/{section}"), 200,
                  what=f"section {section}").text
    browser.csrf, browser.page_tag = hidden(page, "csrf_token"), hidden(page, "_participant")
    return page


async def set_up(browsers: list[Browser], slug: str, section: int, at_once: int = 20) -> None:
    """Participants for every browser, ``at_once`` at a time."""
    gate = asyncio.Semaphore(at_once)

    async def one(browser):
        async with gate:
            await browser.connection.open()
            await new_participant(browser, slug, section)
            await browser.connection.close()

    await asyncio.gather(*(one(b) for b in browsers))


# -- one request each ------------------------------------------------------------------------

def _saved(browser: Browser, text: str, revision: int) -> None:
    browser.revision, browser.saved, browser.last_saved = revision, browser.saved + 1, text
    browser.unconfirmed.clear()


async def app_autosave(browser: Browser) -> str | None:
    browser.sequence += 1
    text = answer_text(browser.tag, browser.index, browser.sequence)
    browser.unconfirmed.append(text)
    form = {"csrf_token": browser.csrf, "_participant": browser.page_tag, "_question": AUTOSAVE_QUESTION,
            f"_rev_{AUTOSAVE_QUESTION}": str(browser.revision), AUTOSAVE_QUESTION: text}
    try:
        reply = await browser.connection.request("POST", f"/survey/section/{AUTOSAVE_SECTION}/autosave", form)
    except HTTPError:
        return "connection lost"
    if reply.status == 200 and reply.json().get("status") == "saved":
        _saved(browser, text, reply.json()["revision"])
        return None
    return f"HTTP {reply.status} {reply.text[:80]}"


async def bare_autosave(browser: Browser) -> str | None:
    browser.sequence += 1
    text = answer_text(browser.tag, browser.index, browser.sequence)
    browser.unconfirmed.append(text)
    try:
        reply = await browser.connection.request("POST", "/save", {"key": f"{browser.tag}#{browser.index}",
                                                                   "text": text})
    except HTTPError:
        return "connection lost"
    if reply.status == 200:
        _saved(browser, text, reply.json()["revision"])
        return None
    return f"HTTP {reply.status} {reply.text[:80]}"


def page_step(path: str, marker: bytes):
    """GET the page; ``step.sizes`` keeps the size of the last few pages, to print."""
    sizes: list[int] = []

    async def step(browser: Browser) -> str | None:
        try:
            reply = await browser.connection.request("GET", path)
        except HTTPError:
            return "connection lost"
        if reply.status != 200 or marker not in reply.body:
            return f"HTTP {reply.status} {reply.text[:80]}"
        if len(sizes) < 100:
            sizes.append(len(reply.body))
        return None

    step.sizes = sizes
    return step


# -- reading the database back ----------------------------------------------------------------

def _stored_app(engine: sa.Engine, tag: str) -> dict[str, list[tuple[str, int]]]:
    query = sa.text("SELECT a.value, a.revision FROM answer a WHERE a.question_key = :key") \
        .columns(value=sa.JSON, revision=sa.Integer)
    return _by_browser(engine, query, {"key": AUTOSAVE_QUESTION}, tag)


def _stored_bare(engine: sa.Engine, tag: str) -> dict[str, list[tuple[str, int]]]:
    query = sa.text(f"SELECT value, revision FROM {BARE_TABLE}").columns(value=sa.Text, revision=sa.Integer)
    return _by_browser(engine, query, {}, tag)


def _by_browser(engine, query, params, tag) -> dict[str, list[tuple[str, int]]]:
    stored: dict[str, list[tuple[str, int]]] = {}
    with engine.connect() as connection:
        for value, revision in connection.execute(query, params):
            if isinstance(value, str) and value.startswith(f"{tag}#"):
                stored.setdefault(value.split("|", 1)[0], []).append((value, revision))
    return stored


def read_back(engine: sa.Engine, browsers: list[Browser], *, bare: bool) -> list[str]:
    """Problems found: an answer missing or not the last one confirmed (lost), two rows for one
    browser (duplicated), or a revision that does not count the confirmed saves. A save whose
    reply never came may or may not have been stored; either outcome is accepted."""
    tag = browsers[0].tag if browsers else ""
    stored = (_stored_bare if bare else _stored_app)(engine, tag)
    problems = []
    for b in browsers:
        rows = stored.pop(f"{b.tag}#{b.index}", [])
        if not b.saved and not b.unconfirmed:
            continue
        if len(rows) > 1:
            problems.append(f"browser {b.index}: {len(rows)} stored answers (duplicated)")
            continue
        if not rows:
            if b.saved:
                problems.append(f"browser {b.index}: no stored answer after {b.saved} confirmed saves (lost)")
            continue
        value, revision = rows[0]
        allowed = {b.last_saved, *b.unconfirmed} - {None}
        if value not in allowed:
            problems.append(f"browser {b.index}: stored text is not the last saved (lost): {value[:40]!r}")
        elif not b.saved <= revision <= b.saved + len(b.unconfirmed):
            problems.append(f"browser {b.index}: revision {revision} after {b.saved} confirmed saves")
    problems += [f"{key}: stored for no browser of this run" for key in stored]
    if not bare:
        with engine.connect() as connection:
            doubled = connection.execute(sa.text(
                "SELECT participant_id FROM response GROUP BY participant_id, survey_id HAVING count(*) > 1")).all()
            doubled += connection.execute(sa.text(
                "SELECT response_id FROM answer GROUP BY response_id, question_key HAVING count(*) > 1")).all()
        problems += [f"duplicated response or answer rows: {len(doubled)}"] if doubled else []
    return problems


def plant_faults(engine: sa.Engine, apps: list[Browser], bares: list[Browser]) -> list[str]:
    """Spoil the stored answers on purpose (after the real read-back): browser 1's text copied
    over browser 0's answer (0 lost, 1 duplicated) and a bare row deleted (lost). Returns what
    ``read_back`` said about each, which must not be empty."""
    first, second = apps[0], apps[1]
    query = sa.text("SELECT id, value FROM answer WHERE question_key = :key").columns(value=sa.JSON)
    with engine.begin() as connection:
        rows = {value.split("|", 1)[0]: pk for pk, value in connection.execute(query, {"key": AUTOSAVE_QUESTION})
                if isinstance(value, str)}
        connection.execute(sa.text("UPDATE answer SET value = :value WHERE id = :id").bindparams(
            sa.bindparam("value", type_=sa.JSON)), {"value": second.last_saved, "id": rows[f"{first.tag}#0"]})
        connection.execute(sa.text(f"DELETE FROM {BARE_TABLE} WHERE key = :key"), {"key": f"{bares[0].tag}#0"})
    problems = read_back(engine, apps, bare=False) + read_back(engine, bares, bare=True)
    lost = [p for p in problems if p.startswith("browser 0:") and "lost" in p]
    duplicated = [p for p in problems if p.startswith("browser 1:") and "duplicated" in p]
    return [p.split(": ", 1)[1] for p in lost + duplicated]
