"""Every route, found from the app's URL map: hostile ids in every id route, hostile tokens in
every token route, hostile strings in every other path argument, and bodies that are not what
a form sends (invalid UTF-8, duplicate keys, more than MAX_CONTENT_LENGTH) to every POST route,
in English and Welsh. A route added to the app fails ``test_every_route_is_covered`` until it
is added here."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from .kit import ATTACKER, HOSTILE_IDS, HOSTILE_TOKENS, LANGUAGES, join, row, stored_answer

pytestmark = pytest.mark.parametrize("language", LANGUAGES)

# Who sends a request to each rule: a staff role, "anonymous", "attacker" (anonymous, from the
# address hostile sign-ins come from) or "participant" (through the session, or with the
# participant's own token in /p/<token>/...).
ADMIN, RESEARCHER, ANYONE, ATTACKER_, PARTICIPANT = "admin", "researcher", "anonymous", "attacker", "participant"
POST_ROUTES = {
    "/account": "signed-in",
    "/admin/users/<id:user_id>": ADMIN,
    "/admin/users/new": ADMIN,
    "/login": ATTACKER_,
    "/logout": "signed-in",
    "/researcher/invitations/messages/<id:message_id>/resend": RESEARCHER,
    "/researcher/invitations/send/<kind>": RESEARCHER,
    "/researcher/invitations/send/<kind>/test": RESEARCHER,
    "/researcher/nominees/<id:nominee_id>/edit": RESEARCHER,
    "/researcher/nominees/<id:nominee_id>/decline": RESEARCHER,
    "/researcher/nominees/<id:nominee_id>/messages/<id:message_id>/resend": RESEARCHER,
    "/researcher/nominees/import": RESEARCHER,
    "/researcher/nominees/import/valid-rows": RESEARCHER,
    "/researcher/nominees/import/jobs/<id:job_id>/valid-rows": RESEARCHER,
    "/researcher/nominees/new": RESEARCHER,
    "/researcher/withdrawals/new": RESEARCHER,
    "/researcher/withdrawals/<id:withdrawal_id>/decide": RESEARCHER,
    "/researcher/interviews/nominees/<id:nominee_id>/consent": RESEARCHER,
    "/s/<slug:slug>": ANYONE,
    **{f"{prefix}{page}": PARTICIPANT for prefix in ("/survey", "/p/<token>")
       for page in ("", "/consent", "/decline", "/email-link", "/review", "/section/<id:number>",
                    "/section/<id:number>/autosave", "/withdraw")},
}
ID_ROUTES = {
    "/admin/users/<id:user_id>": ADMIN,
    "/researcher/invitations/batches/<id:batch_id>": RESEARCHER,
    "/researcher/invitations/batches/<id:batch_id>/progress": RESEARCHER,
    "/researcher/invitations/messages/<id:message_id>/resend": RESEARCHER,
    "/researcher/nominees/<id:nominee_id>": RESEARCHER,
    "/researcher/nominees/<id:nominee_id>/edit": RESEARCHER,
    "/researcher/nominees/<id:nominee_id>/decline": RESEARCHER,
    "/researcher/nominees/<id:nominee_id>/messages/<id:message_id>/resend": RESEARCHER,
    "/researcher/nominees/import/jobs/<id:job_id>": RESEARCHER,
    "/researcher/nominees/import/jobs/<id:job_id>/progress": RESEARCHER,
    "/researcher/nominees/import/jobs/<id:job_id>/valid-rows": RESEARCHER,
    "/researcher/withdrawals/<id:withdrawal_id>/decide": RESEARCHER,
    "/researcher/interviews/nominees/<id:nominee_id>/consent": RESEARCHER,
    "/review/participants/<id:participant_id>": ADMIN,
    "/review/participants/<id:participant_id>/consent.pdf": ADMIN,
    "/survey/section/<id:number>": PARTICIPANT,
    "/survey/section/<id:number>/autosave": PARTICIPANT,
    "/p/<token>/section/<id:number>": PARTICIPANT,
    "/p/<token>/section/<id:number>/autosave": PARTICIPANT,
}
# Other arguments in a path: a study's slug, a message kind, a static file's name.
STRING_ROUTES = {"/s/<slug:slug>": ANYONE, "/researcher/invitations/send/<kind>": RESEARCHER,
                 "/researcher/invitations/send/<kind>/test": RESEARCHER,
                 "/static/<path:filename>": ANYONE}


def _methods(app) -> dict[str, set[str]]:
    return {rule.rule: set(rule.methods) - {"HEAD", "OPTIONS"} for rule in app.url_map.iter_rules()}


def test_every_route_is_covered(world, language):
    methods = _methods(world.app)
    assert {r for r, m in methods.items() if "POST" in m} == set(POST_ROUTES)
    assert {r for r in methods if "<id:" in r} == set(ID_ROUTES)
    assert {r for r in methods if "<" in r and "<id:" not in r and "<token>" not in r} == set(STRING_ROUTES)
    assert {r for r in methods if "<token>" in r} == set(TOKEN_RULES)


TOKEN_RULES = {f"/p/<token>{page}" for page in ("", "/consent", "/decline", "/declined", "/done", "/email-link",
                                                "/information", "/review", "/saved", "/section/<id:number>",
                                                "/section/<id:number>/autosave", "/withdraw", "/withdrawn")}


@pytest.fixture(scope="module")
def sessions(world):
    """Clients shared by the module's cases, made on first use."""
    made = {}

    def get(who: str, language: str):
        if (who, language) not in made:
            if who == PARTICIPANT:
                made[who, language] = join(world.app, world.slug, language)
            elif who in (ADMIN, RESEARCHER):
                made[who, language] = world.staff[who, language]
            else:
                made[who, language] = world.visitor(language, address=ATTACKER if who == ATTACKER_ else None)
        return made[who, language]

    return get


def _client(world, sessions, who: str, language: str, rule: str, fresh: bool = False):
    """(visitor, the rule's path with real arguments, the fields a page's form would send)."""
    victim = world.victims[language]
    if who == "signed-in" or fresh and who in (ADMIN, RESEARCHER):
        # A case that may end the session or change the user: its own session, as the victim.
        visitor = world.sign_in("victim", language) if who == "signed-in" else world.sign_in(who, language)
    elif who == PARTICIPANT and fresh:
        visitor = join(world.app, world.slug, language)
    else:
        visitor = sessions(who, language)
    participant = visitor if who == PARTICIPANT else None
    values = {"user_id": victim["user"], "message_id": victim["message"], "nominee_id": victim["nominee"],
              "batch_id": victim["batch"], "kind": "reminder", "slug": world.slug, "number": "1",
              "filename": "css/app.css", "job_id": victim["job"], "withdrawal_id": victim["withdrawal"],
              "participant_id": victim["withdrawn"],
              "token": participant.token if participant else ""}
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule)
    if participant is not None:
        participant.visitor.open(participant.url("/section/1"))
        fields = participant.visitor.hidden("survey-form")
        fields = {k: v for k, v in fields.items() if k in ("csrf_token", "_participant")}
        return participant.visitor, path, fields
    if who in (ADMIN, RESEARCHER) or who == "signed-in":
        return visitor, path, {"csrf_token": visitor.csrf}
    visitor.open("/login" if who == ATTACKER_ else f"/s/{world.slug}")
    return visitor, path, {"csrf_token": visitor.hidden()["csrf_token"]}


# Rows an accepted request may add (each such form is checked closely elsewhere): a resent
# message's new batch, an emailed link, a sign-in's failure count, a participant from the
# open link (duplicate keys: the first language sent is taken), and the audit events of those.
FREE = ("invitation_batch", "invitation_message", "link_email", "login_throttle", "participant", "audit_event",
        "audit_head")
# A redirect from a canonical-path rule (a "..%2F" token makes "//", merged by the router).
MOVED = 308


BODIES = ["invalid-utf8-bare", "invalid-utf8-fields", "duplicate-keys", "huge"]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("rule", list(POST_ROUTES))
def test_bodies_no_form_sends(world, sessions, language, rule, body):
    who = POST_ROUTES[rule]
    fresh = rule.endswith(("/decline", "/logout", "/account"))
    visitor, path, fields = _client(world, sessions, who, language, rule, fresh=fresh)
    other = "cy" if language == "en" else "en"
    if body == "invalid-utf8-bare":
        data = b"\xff\xfe"
    elif body == "invalid-utf8-fields":
        data = urlencode(fields).encode() + b"".join(
            b"&" + name + b"=\xff\xfe" for name in (b"name", b"email", b"role", b"language", b"password", b"aims",
                                                    b"_question", b"content", b"filename", b"\xff\xfe"))
    elif body == "duplicate-keys":
        pairs = [*fields.items(), *[(k, "x" * len(v)) for k, v in fields.items()],  # the page's own first
                 ("email", "a@x.test"), ("email", "b@y.test"), ("language", language), ("language", other),
                 ("_question", "role"), ("_question", "aims"), ("role", "first"), ("role", "second")]
        data = urlencode(pairs).encode()
    else:
        limit = world.app.config["MAX_CONTENT_LENGTH"]
        data = urlencode(fields).encode() + b"&aims=" + b"x" * (limit + 1)
    before = world.audit.counts()
    response = visitor.client.post(path, data=data, content_type="application/x-www-form-urlencoded")
    allowed = {413} if body == "huge" else {200, 302, 400, 404, 409, 429}
    if body == "huge" and rule == "/p/<token>":
        allowed = {302, 413}  # a participant with a language is sent on without the body being read
    world.check(visitor.client, response, language, allowed=allowed)
    free = FREE if rule == "/s/<slug:slug>" else tuple(t for t in FREE if t != "participant")
    if "/section/" in rule:  # duplicate keys: the first value sent is the answer
        free += ("response", "answer")
        assert stored_answer(world.app, sessions(PARTICIPANT, language).id, "role") in (None, "first")
    world.settle(before, free=free)
    if who in (ADMIN, RESEARCHER):  # the shared session's language is untouched
        assert row(world.app, "SELECT preferred_language FROM user_account WHERE email = :e",
                   e=visitor.email)["preferred_language"] == language


def _methods_of(world, rule):
    return sorted(_methods(world.app)[rule])


@pytest.mark.parametrize("bad", list(HOSTILE_IDS))
@pytest.mark.parametrize("rule", list(ID_ROUTES))
def test_hostile_ids(world, sessions, language, rule, bad):
    visitor, _, fields = _client(world, sessions, ID_ROUTES[rule], language, rule)
    token = sessions(PARTICIPANT, language).token if "<token>" in rule else ""
    path = re.sub(r"<id:\w+>", HOSTILE_IDS[bad], rule.replace("<token>", token))
    for method in _methods_of(world, rule):
        before = world.audit.counts()
        response = visitor.client.open(path, method=method, data=fields if method == "POST" else None)
        world.check(visitor.client, response, language, allowed={404})
        world.settle(before)


@pytest.mark.parametrize("bad", list(HOSTILE_TOKENS))
@pytest.mark.parametrize("rule", sorted(TOKEN_RULES))
def test_hostile_tokens(world, sessions, language, rule, bad):
    """A participant with a session of their own follows a link with a bad token: 404, and
    nothing done to their own answers."""
    participant = sessions(PARTICIPANT, language)
    visitor = participant.visitor
    visitor.open(participant.url("/section/1"))
    fields = {k: v for k, v in visitor.hidden("survey-form").items() if k in ("csrf_token", "_participant")}
    path = rule.replace("<token>", HOSTILE_TOKENS[bad]).replace("<id:number>", "1")
    for method in _methods_of(world, rule):
        data = {**fields, "_question": "role", "role": "Changed", "language": language} if method == "POST" else None
        before = world.audit.counts()
        response = visitor.client.open(path, method=method, data=data)
        world.check(visitor.client, response, language, allowed={404, 429, MOVED})
        world.settle(before)


@pytest.mark.parametrize("bad", list(HOSTILE_TOKENS))
@pytest.mark.parametrize("rule", list(STRING_ROUTES))
def test_hostile_path_strings(world, sessions, language, rule, bad):
    visitor, _, fields = _client(world, sessions, STRING_ROUTES[rule], language, rule)
    path = re.sub(r"<(?:\w+:)?\w+>", HOSTILE_TOKENS[bad], rule)
    for method in _methods_of(world, rule):
        before = world.audit.counts()
        response = visitor.client.open(path, method=method, data=fields if method == "POST" else None)
        world.check(visitor.client, response, language, allowed={404})
        world.settle(before)
