"""Our Twilio signature check answers exactly as the twilio package's ``RequestValidator``."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import URL
from twilio.request_validator import RequestValidator

from smsconsent.providers import twilio
from smsconsent.settings import Settings
from smsconsent.web import webhooks

schemes = st.sampled_from(["http", "https", "HTTPS"])
hosts = st.sampled_from(["example.com", "127.0.0.1", "sms.example.com", "EXAMPLE.com"])
ports = ["", ":80", ":443", ":8000"]
paths = st.sampled_from(["/webhooks/twilio/acme", "/webhooks/twilio/a%20b", "/x/", ""])
queries = st.sampled_from(["", "?", "?a=1", "?bodySHA256=abc", "?a=1&b=%20"])
parts = st.tuples(schemes, hosts, st.sampled_from(ports), paths, queries)
params = st.dictionaries(st.sampled_from(["From", "To", "Body", "MessageSid", "a", "Z", "é"]),
                         st.text(max_size=20), max_size=6)


def joined(scheme: str, host: str, port: str, path: str, query: str) -> str:
    return f"{scheme}://{host}{port}{path}{query}"


@settings(max_examples=400, deadline=None)
@given(url=parts, params=params, token=st.sampled_from(["tok", "other", "ü-token"]),
       elsewhere=parts, signer=st.sampled_from(["tok", "other"]), noise=st.text(max_size=30))
def test_signature_check_answers_as_the_library(
        url: tuple[str, str, str, str, str], params: dict[str, str], token: str,
        elsewhere: tuple[str, str, str, str, str], signer: str, noise: str) -> None:
    """Signatures made for the URL, for its port variants, for another URL, with another
    token, and plain noise: accepted exactly when the library accepts them."""
    scheme, host, _port, path, query = url
    signed = [joined(*elsewhere), *(joined(scheme, host, p, path, query) for p in ports)]
    candidates = [noise, *(RequestValidator(signer).compute_signature(u, params)
                           for u in signed)]
    for signature in candidates:
        expected = bool(signature) and RequestValidator(token).validate(
            joined(*url), params, signature)
        assert twilio.signature_valid(token, joined(*url), params, signature) == expected


hosts_headers = st.sampled_from([None, b"example.com", b"example.com:8000", b"127.0.0.1:80",
                                 b"[::1]:8000", b"bad host", b"h:99999", b""])
servers = st.sampled_from([None, ("127.0.0.1", 8000), ("::1", 80), ("10.0.0.1", 443)])
raw_paths = st.sampled_from(["/webhooks/twilio/acme", "/webhooks/twilio/a b", "/a?b#c\\d",
                             "//x", "/é"])


@settings(max_examples=300, deadline=None)
@given(scheme=st.sampled_from(["http", "https"]), server=servers, path=raw_paths,
       query=st.sampled_from([b"", b"a=1", b"x=%20&y"]), host=hosts_headers,
       public=st.sampled_from([None, "https://sms.example.com", "https://sms.example.com/p"]))
def test_remembered_signed_url_is_the_url_of_the_scope(
        scheme: str, server: tuple[str, int] | None, path: str, query: bytes,
        host: bytes | None, public: str | None) -> None:
    """The URL the fast route checks a signature against is the route's own,
    ``twilio_url(settings, URL(scope=scope))``, whatever the scope holds."""
    headers = [(b"content-type", b"x")] + ([] if host is None else [(b"host", host)])
    scope = {"type": "http", "scheme": scheme, "server": server, "path": path,
             "query_string": query, "headers": headers}
    config = Settings(db_url="sqlite:///unused.db", public_url=public)
    assert webhooks.scope_twilio_url(config, scope, host) == \
        webhooks.twilio_url(config, URL(scope=scope))
