"""Our Twilio signature check answers exactly as the twilio package's ``RequestValidator``."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from smsconsent.providers import twilio

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
