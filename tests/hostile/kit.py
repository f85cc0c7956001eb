"""The hostile-input suite's tools: the payloads, a visitor that behaves like a browser (it
follows redirects and posts a page's own form to that form's action), and the two checks run
after every case: the answer (never a 500, the user's language, nothing reflected unescaped, a
clear message) and the database read back (nothing stored that should not be, and row counts
changed only as an accepted case should).
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from babel.messages.pofile import read_po
from flask_babel import force_locale

from surveyapp.db import db
from surveyapp.web import ERROR_TITLES

LANGUAGES = ("en", "cy")
PASSWORD = "a-long-password-for-tests"
# Hostile sign-in attempts come from their own address, so that the throttle they trip (as
# it should) never holds out the suite's own staff sessions.
ATTACKER = "192.0.2.66"

# -- payloads ------------------------------------------------------------------------------------

OVERSIZED = "x" * 100_001  # over every field's limit, long text's 100,000 included


@dataclass(frozen=True)
class Payload:
    id: str
    value: str
    #: Must be refused in a one-line field (names, emails, roles, short answers) and in
    #: multi-line text (long answers): never stored, not even cleaned up.
    refuse_line: bool = False
    refuse_text: bool = False


PAYLOADS = (
    Payload("script", "<script>alert(1)</script>"),
    Payload("attribute", '"><img src=x onerror=alert(1)>'),
    # Markers around the template syntax: "zz49zz" or "yy1yy" in a page means it was rendered.
    Payload("template-expression", "zz{{7*7}}zz"),
    Payload("template-statement", "yy{% print 1 %}yy"),
    Payload("formula-hyperlink", '=HYPERLINK("http://evil.test","x")'),
    Payload("formula-plus", "+1+1"),
    Payload("formula-at", "@SUM(1)"),
    Payload("formula-minus", "-2+3"),
    Payload("nul", "a\x00b", refuse_line=True, refuse_text=True),
    Payload("controls", "\x07\x1b[31m", refuse_line=True, refuse_text=True),
    Payload("nfd", "w\u0302"),  # stored as "ŵ"
    Payload("bidi-override", "abc\u202edef", refuse_line=True),
    Payload("bidi-isolate", "abc\u2066xyz", refuse_line=True),
    Payload("oversized", OVERSIZED, refuse_line=True, refuse_text=True),
    Payload("header-injection-name", "Name\r\nBcc: x@evil.test"),
    Payload("header-injection-email", "a@b.test\r\nBcc: x@evil.test"),
)
# For fields where only the kind of attack matters, not each variant (passwords, language and
# option codes, numbers, file names): one of each family.
FEW = tuple(p for p in PAYLOADS if p.id in {"script", "template-expression", "formula-hyperlink", "nul",
                                            "bidi-override", "oversized", "header-injection-name"})

# What must never appear in a page: the payloads live (unescaped), or rendered as templates.
LIVE_MARKERS = ("<script>alert(1)</script>", "<img src=x", "onerror=alert(1)>", "zz49zz", "yy1yy")
RAW_CONTROLS = ("\x00", "\x07", "\x1b")
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# A page may hold FIRST STRONG ISOLATE ... POP DIRECTIONAL ISOLATE: the app's own plain-text
# isolation of a name in a sentence (surveyapp/text.py, isolated()).
PAGE_BIDI = BIDI_CONTROLS - {"\u2068", "\u2069"}

# Hostile ids and tokens, as they appear in a URL path (already percent-encoded where needed).
HOSTILE_IDS = {
    "arabic-indic": "%D9%A1%D9%A2",  # ١٢
    "leading-zeros": "00012",
    "too-big": "99999999999999999999",
    "long": "1" * 10_000,
    "negative": "-1",
    "nul": "%00",
    "dot-dot": "..%2F",
    "script": "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
}
HOSTILE_TOKENS = {
    "arabic-indic": "%D9%A1%D9%A2",
    "nul": "%00",
    "long": "A" * 10_000,
    "dot-dot": "..%2F",
    "dot-dot-plain": "..%2F..%2Fadmin",
    "script": "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "crlf": "x%0D%0ABcc:%20x@evil.test",
    "invalid-utf8": "%FF%FE",
}


def one_line(value: str) -> str:
    """What a one-line field is expected to store for ``value`` (surveyapp/text.py's rule)."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def multi_line(value: str) -> str:
    return unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()


def email_with(payload: Payload, uid: int) -> str:
    """An address carrying the payload, unique to the case (so an accepted one is no duplicate)."""
    if payload.id == "header-injection-email":
        return f"a.{uid}@b.test\r\nBcc: x@evil.test"
    return f"{payload.value}.{uid}@example.org"


# -- pages and forms -----------------------------------------------------------------------------

class _Forms(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._open = {"attrs": attrs, "hidden": {}}
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and attrs.get("type") == "hidden" and attrs.get("name"):
            self._open["hidden"][attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def forms_of(page: str) -> list[dict]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


class Visitor:
    """A test client that behaves like a browser in one language: it follows redirects, and
    posts a page's own form (its hidden fields and CSRF token) to the form's action."""

    def __init__(self, app, language: str, *, address: str | None = None):
        self.app = app
        self.language = language
        self.client = app.test_client()
        self.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        if address:
            self.client.environ_base["REMOTE_ADDR"] = address
        self.page = ""
        self.path = ""

    def open(self, url: str):
        response = self.client.get(url, follow_redirects=True)
        self.page = response.get_data(as_text=True)
        self.path = response.request.path
        return response

    def form(self, form_id: str | None = None, *, action: str | None = None) -> dict:
        """The page's form to post: by id, by the end of its action, or else the first that is
        not the staff menu's sign-out button."""
        posts = [f for f in forms_of(self.page) if f["attrs"].get("method", "get").lower() == "post"]
        if form_id is not None:
            posts = [f for f in posts if f["attrs"].get("id") == form_id]
        elif action is not None:
            posts = [f for f in posts if (f["attrs"].get("action") or "").endswith(action)]
        else:
            posts = [f for f in posts if not (f["attrs"].get("action") or "").endswith("/logout")]
        assert posts, f"no form to post on {self.path}"
        return posts[0]

    def action(self, form: dict) -> str:
        return form["attrs"].get("action") or self.path

    def submit(self, url: str, data: dict, *, form_id: str | None = None, **kw):
        """Open ``url`` and post its form with ``data`` over the form's own fields."""
        self.open(url)
        form = self.form(form_id)
        return self.client.post(self.action(form), data={**form["hidden"], **data}, **kw)

    def hidden(self, form_id: str | None = None) -> dict:
        return dict(self.form(form_id)["hidden"])


class Staff(Visitor):
    """A signed-in staff member, kept for a module; their CSRF token is read once."""

    def __init__(self, app, language: str, email: str):
        super().__init__(app, language)
        self.email = email
        self.open("/login")
        form = self.form()
        response = self.client.post("/login", data={**form["hidden"], "email": email, "password": PASSWORD})
        assert response.status_code == 302, (email, response.status_code)
        self.open("/account")
        self.csrf = self.form()["hidden"]["csrf_token"]


# -- the answer ----------------------------------------------------------------------------------

ALLOWED = frozenset({200, 302, 400, 404, 409, 413, 429})
_LANG = re.compile(r'<html[^>]*\blang="([^"]*)"')
_MESSAGE = ('role="alert"', 'class="field-error"', 'class="flash')


class Catalogue:
    """The Welsh catalogue, to tell an English sentence on a Welsh answer (and the reverse)."""

    def __init__(self, po: Path):
        with po.open("rb") as handle:
            catalogue = read_po(handle, locale="cy")
        self.english: list[re.Pattern] = []
        self.welsh: list[re.Pattern] = []
        for message in catalogue:
            if not message.id or not message.string:
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for en in ids:
                if en not in strings:
                    self.english.append(self._pattern(en))
            for cy in strings:
                if cy and cy not in ids:
                    self.welsh.append(self._pattern(cy))

    @staticmethod
    def _pattern(text: str) -> re.Pattern:
        parts = re.split(r"%\(\w+\)[sd]|%[sd]", text)
        return re.compile("^" + ".+".join(re.escape(p) for p in parts) + "$", re.S)

    def foreign(self, sentence: str, language: str) -> bool:
        """Whether ``sentence`` is one of the app's sentences in the other language."""
        patterns = self.english if language == "cy" else self.welsh
        return any(p.match(sentence) for p in patterns)


@dataclass
class Answer:
    status: int
    body: str
    location: str | None = None
    followed: str = ""  # the page a redirect led to
    followed_path: str = ""
    json: dict | None = None


def check_answer(app, client, response, language: str, catalogue: Catalogue, *, allowed=ALLOWED,
                 bidi_may_show: bool = False, follow: bool = True) -> Answer:
    """Everything an answer to a hostile request must be, whatever the request was."""
    status = response.status_code
    body = response.get_data(as_text=True)
    assert status != 500 and status in allowed, f"status {status} not in {sorted(allowed)}:\n{body[:600]}"
    for name, value in response.headers.items():
        assert "\r" not in value and "\n" not in value, (name, value)
        assert name.lower() not in ("bcc", "cc"), name
    answer = Answer(status, body)
    if status in (301, 302, 303, 307, 308):
        location = response.headers["Location"]
        parts = urlsplit(location)
        assert not parts.netloc or parts.netloc == app.config["SERVER_NAME"], location
        assert "evil" not in location, location
        answer.location = location
        if follow and status in (302, 303):  # 307/308 repeat the request: not followed as a GET
            followed = client.get(location, follow_redirects=True)
            answer.followed = followed.get_data(as_text=True)
            answer.followed_path = followed.request.path
            assert followed.status_code in (200, 400, 404), (location, followed.status_code)
            _check_body(app, answer.followed, followed.mimetype, followed.status_code, language, catalogue,
                        bidi_may_show)
        return answer
    if response.mimetype == "application/json":
        answer.json = response.get_json()
    _check_body(app, body, response.mimetype, status, language, catalogue, bidi_may_show)
    return answer


def _check_body(app, body, mimetype, status, language, catalogue, bidi_may_show):
    for marker in LIVE_MARKERS:
        assert marker not in body, f"{marker!r} reflected unescaped"
    for char in RAW_CONTROLS:
        assert char not in body, f"raw {char!r} in the answer"
    if not bidi_may_show:
        shown = sorted(f"U+{ord(c):04X}" for c in PAGE_BIDI if c in body)
        assert not shown, f"raw bidi control {shown} in the answer"
    if mimetype == "application/json":
        data = json.loads(body)
        message = data.get("message")
        assert isinstance(message, str) and message.strip(), f"no message: {data}"
        assert not catalogue.foreign(message, language), f"{message!r} is not in {language}"
        return
    assert mimetype == "text/html", mimetype
    match = _LANG.search(body)
    assert match, "no <html lang>"
    assert match.group(1) == language, f"page in {match.group(1)!r}, user's language is {language!r}"
    if status == 400:  # a form shown again says what is wrong, or it is the error page
        with app.test_request_context(), force_locale(language):
            title = str(ERROR_TITLES[400])
        assert any(m in body for m in _MESSAGE) or f"<h1>{title}</h1>" in html.unescape(body), \
            f"a 400 answer without a message:\n{body[:800]}"
    elif status > 400:  # a page of its own: a heading that says what happened
        assert re.search(r"<h1[^>]*>\s*[^<\s]", body), f"a {status} answer without a message:\n{body[:800]}"


# -- the database, read back ---------------------------------------------------------------------

def _is_bad_control(char: str) -> bool:
    n = ord(char)
    return (n < 0x20 and char not in "\n\t") or 0x7F <= n <= 0x9F or 0xD800 <= n <= 0xDFFF


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@dataclass
class Audit:
    """Reads every text and JSON column of every table back."""

    app: object
    #: Long answers keep bidi controls by design (surveyapp/text.py: multi-line text allows
    #: them; pages isolate answers). Every other column refuses them.
    bidi_allowed_answers: frozenset[str] = frozenset()
    _clean: set = field(default_factory=set)
    _reported: set = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        with self.app.app_context():
            tables = db.metadata.sorted_tables
            query = sa.union_all(*[sa.select(sa.literal(t.name).label("t"), sa.func.count().label("n"))
                                   .select_from(t) for t in tables])
            counts = {name: n for name, n in db.session.execute(query).all()}
            db.session.remove()
        return counts

    def problems(self) -> list[str]:
        """What the database holds that it should not, each problem reported once (by the
        case that stored it, as every case reads the database back)."""
        found = []
        with self.app.app_context():
            for table in db.metadata.sorted_tables:
                columns = [c for c in table.columns if isinstance(c.type, sa.String | sa.JSON)]
                if not columns:
                    continue
                selected = [sa.cast(c, sa.Text) if isinstance(c.type, sa.JSON) else c for c in columns]
                extra = [table.c.question_key] if table.name == "answer" else []
                pk = list(table.primary_key.columns)
                for row in db.session.execute(sa.select(*pk, *extra, *selected)).all():
                    where = f"{table.name} {tuple(row[:len(pk)])}"
                    raws = row[len(pk) + len(extra):]
                    bidi_ok = bool(extra) and row[len(pk)] in self.bidi_allowed_answers
                    for column, raw in zip(columns, raws, strict=True):
                        if raw is None:
                            continue
                        key = (table.name, column.name, bidi_ok, raw)
                        if key in self._clean:
                            continue
                        problems = self._check(column, raw, bidi_ok)
                        if problems:
                            found.extend(f"{where}.{column.name}: {p}" for p in problems
                                         if (where, column.name, p) not in self._reported)
                            self._reported.update((where, column.name, p) for p in problems)
                        else:
                            self._clean.add(key)
            db.session.remove()
        return found

    @staticmethod
    def _check(column, raw: str, bidi_ok: bool) -> list[str]:
        problems = []
        strings = list(_strings(json.loads(raw))) if isinstance(column.type, sa.JSON) else [raw]
        length = getattr(column.type, "length", None)
        if length is not None and len(raw) > length:
            problems.append(f"{len(raw)} characters in a column of {length}")
        for text in strings:
            if "\x00" in text:
                problems.append("NUL")
            bad = sorted({f"U+{ord(c):04X}" for c in text if _is_bad_control(c) and c != "\x00"})
            if bad:
                problems.append(f"control characters {bad}")
            if not bidi_ok and any(c in BIDI_CONTROLS for c in text):
                problems.append(f"bidi controls in {text[:40]!r}")
            if not unicodedata.is_normalized("NFC", text):
                problems.append(f"not NFC: {text[:40]!r}")
        return problems


def row(app, sql: str, **params):
    """One row (as a dict) read with plain SQL, or None."""
    with app.app_context():
        found = db.session.execute(sa.text(sql), params).mappings().first()
        db.session.remove()
    return dict(found) if found is not None else None


def assert_counts(before: dict, after: dict, expected: dict | None = None, *, free=()):
    """Row counts moved exactly as ``expected`` (table: delta), except the ``free`` tables."""
    expected = expected or {}
    moved = {t: after[t] - before.get(t, 0) for t in after if after[t] != before.get(t, 0) and t not in free}
    want = {t: d for t, d in expected.items() if d}
    assert moved == want, f"row counts moved {moved}, expected {want}"


# -- participants --------------------------------------------------------------------------------

_PERSONAL_LINK = re.compile(r'class="personal-link__url"[^>]*>https?://[^/<]+/p/([^/<"]+)</a>')


@dataclass
class Participant:
    visitor: Visitor
    token: str
    id: int
    base: str  # where the participant's pages are: "/survey" (or "/p/<token>" before the change)

    def url(self, page: str) -> str:
        return self.base + page


def join(app, slug: str, language: str, *, consent: bool = True) -> Participant:
    """The journey from the study's open link, as a person takes it: choose the language, read
    the information page (which shows the personal link), consent to every item."""
    from surveyapp.participant.services import hash_token

    visitor = Visitor(app, language)
    response = visitor.submit(f"/s/{slug}", {"language": language})
    assert response.status_code == 302, response.status_code
    visitor.open(response.headers["Location"])
    assert visitor.path.endswith("/information"), visitor.path
    token = _PERSONAL_LINK.search(visitor.page).group(1)
    base = visitor.path.rsplit("/", 1)[0]
    found = row(app, "SELECT id FROM participant WHERE token_hash = :h", h=hash_token(token))
    participant = Participant(visitor, token, found["id"], base)
    if consent:
        visitor.open(participant.url("/consent"))
        boxes = {name: "y" for name in re.findall(r'type="checkbox" id="[^"]+" name="(item_[^"]+)"', visitor.page)}
        assert boxes, "no consent items"
        form = visitor.form()
        response = visitor.client.post(visitor.action(form), data={**form["hidden"], **boxes, "consent": "1"})
        assert response.status_code == 302, response.status_code
    return participant


def stored_answer(app, participant_id: int, key: str):
    found = row(app, "SELECT CAST(a.value AS TEXT) AS value FROM answer a JOIN response r ON a.response_id = r.id "
                     "WHERE r.participant_id = :p AND a.question_key = :k", p=participant_id, k=key)
    return None if found is None or found["value"] is None else json.loads(found["value"])
