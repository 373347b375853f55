"""Hostile XML: entity expansion, external entities and DTDs, oversize trees.

Every case must be refused quickly, without expanding anything and without touching the file system
or the network (a local listener counts connection attempts).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from adapters.cisu import InvalidMessage, parse_wire_message
from tests.support.paths import REFERENCE

SAMPLE_XML = (REFERENCE / "envelopes/RC-EDA.xml").read_bytes()
DECLARATION = b"<?xml version='1.0' encoding='UTF-8'?>"


def refused(raw: bytes) -> InvalidMessage:
    started = time.perf_counter()
    with pytest.raises(InvalidMessage) as caught:
        parse_wire_message(raw)
    assert time.perf_counter() - started < 1.0
    assert caught.value.reasons and caught.value.encoding == "xml"
    return caught.value


def with_doctype(doctype: bytes, field_value: bytes = b"fr.health.samuB") -> bytes:
    """The valid sample with a DOCTYPE and an entity reference in one of its fields."""
    body = SAMPLE_XML.replace(DECLARATION, b"").replace(
        b"<senderID>fr.health.samuB</senderID>", b"<senderID>" + field_value + b"</senderID>"
    )
    return DECLARATION + b"\n" + doctype + body


@pytest.fixture
def listener():
    """A local TCP listener that records every connection attempt."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    hits: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(0.5)
                try:
                    hits.append(connection.recv(1024))
                    connection.sendall(b'HTTP/1.0 200 OK\r\n\r\n<!ENTITY x "pwned">')
                except OSError:
                    hits.append(b"")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", hits
    stop.set()
    thread.join(timeout=2)
    server.close()


def test_billion_laughs_is_refused_without_expansion():
    lol = [b'<!ENTITY lol0 "lol">']
    for level in range(1, 10):
        lol.append(b'<!ENTITY lol%d "%s">' % (level, b"".join(b"&lol%d;" % (level - 1) for _ in range(10))))
    raw = with_doctype(b"<!DOCTYPE edxlDistribution [" + b"".join(lol) + b"]>", b"&lol9;")
    error = refused(raw)
    assert [r.code for r in error.reasons] == ["xml-forbidden"]
    assert all("lollol" not in r.message for r in error.reasons)


def test_quadratic_blowup_is_refused():
    big = b"A" * 50_000
    raw = with_doctype(b'<!DOCTYPE edxlDistribution [<!ENTITY a "' + big + b'">]>', b"&a;" * 100)
    assert [r.code for r in refused(raw).reasons] == ["xml-forbidden"]


def test_external_entity_on_a_local_file_is_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-42")
    for target in (secret.as_uri(), "file:///etc/passwd"):
        raw = with_doctype(
            b'<!DOCTYPE edxlDistribution [<!ENTITY xxe SYSTEM "' + target.encode() + b'">]>', b"&xxe;"
        )
        error = refused(raw)
        assert [r.code for r in error.reasons] == ["xml-forbidden"]
        text = " ".join(r.message + r.detail for r in error.reasons)
        assert "TOP-SECRET-42" not in text and "root:" not in text


def test_external_dtd_over_http_is_never_fetched(listener):
    url, hits = listener
    raws = [
        with_doctype(b'<!DOCTYPE edxlDistribution SYSTEM "' + url.encode() + b'/evil.dtd">'),
        with_doctype(b'<!DOCTYPE edxlDistribution PUBLIC "-//EVIL//X" "' + url.encode() + b'/evil.dtd">'),
        with_doctype(b'<!DOCTYPE edxlDistribution [<!ENTITY % p SYSTEM "' + url.encode() + b'/p.dtd"> %p;]>'),
        with_doctype(b'<!DOCTYPE edxlDistribution [<!ENTITY e SYSTEM "' + url.encode() + b'/e.xml">]>', b"&e;"),
    ]
    for raw in raws:
        assert [r.code for r in refused(raw).reasons] == ["xml-forbidden"]
    time.sleep(0.3)  # leave the listener a chance to see a late connection
    assert hits == []


def test_a_bare_doctype_is_refused_too():
    assert [r.code for r in refused(with_doctype(b"<!DOCTYPE edxlDistribution>")).reasons] == ["xml-forbidden"]


def test_doctype_after_comments_and_instructions_is_refused():
    raw = SAMPLE_XML.replace(
        DECLARATION, DECLARATION + b"<!-- hi --><?pi?>\n<!DOCTYPE edxlDistribution [<!ENTITY a 'b'>]>"
    )
    assert [r.code for r in refused(raw).reasons] == ["xml-forbidden"]


@pytest.mark.parametrize("unit", [b"<?a?>", b"<!---->", b"<?a?> "])
def test_pathological_prologs_are_scanned_in_linear_time(unit):
    refused(DECLARATION + unit * 120_000 + b"<a/>")  # refused() also checks it takes < 1 s


def test_undeclared_entity_reference_is_refused():
    raw = SAMPLE_XML.replace(b"<senderID>fr.health.samuB</senderID>", b"<senderID>&xxe;</senderID>")
    assert [r.code for r in refused(raw).reasons] == ["xml-forbidden"]


def test_predefined_entities_and_character_references_are_fine():
    raw = SAMPLE_XML.replace(b"<sketch>None</sketch>", b"<sketch>&lt;a&gt; &amp; &#233;&#x1F692;</sketch>")
    assert parse_wire_message(raw).use_case["location"]["geometry"]["sketch"] == "<a> & é\U0001f692"


def test_xinclude_is_not_processed():
    raw = SAMPLE_XML.replace(
        b"<sketch>None</sketch>",
        b'<sketch>None</sketch><xi:include xmlns:xi="http://www.w3.org/2001/XInclude"'
        b' href="file:///etc/passwd" parse="text"/>',
    )
    error = refused(raw)
    assert error.reasons[0].code == "content"
    assert "root:" not in " ".join(r.message for r in error.reasons)


def test_comments_processing_instructions_and_cdata_do_not_change_values():
    raw = SAMPLE_XML.replace(DECLARATION, DECLARATION + b'<?xml-stylesheet href="http://127.0.0.1:9/x.xsl"?>')
    raw = raw.replace(b"<caseId>fr.health.samu690.", b"<caseId>fr.health.<!-- note -->samu690.<?pi x?>")
    raw = raw.replace(b"<sketch>None</sketch>", b"<sketch><![CDATA[a < b && c]]></sketch>")
    message = parse_wire_message(raw)
    assert message.use_case["caseId"] == "fr.health.samu690.DRFR15690240430050"
    assert message.use_case["location"]["geometry"]["sketch"] == "a < b && c"


@pytest.mark.parametrize("depth", [65, 300, 50_000])
def test_deep_xml_is_refused(depth):
    raw = DECLARATION + b"<a>" * depth + b"</a>" * depth
    (reason,) = refused(raw).reasons
    assert reason.code == "too-deep" and "64" in reason.message


def test_deep_xml_inside_a_real_envelope():
    raw = SAMPLE_XML.replace(b"<sketch>None</sketch>", b"<sketch>" + b"<x>" * 80 + b"</x>" * 80 + b"</sketch>")
    assert [r.code for r in refused(raw).reasons] == ["too-deep"]


def test_too_many_elements_is_refused():
    raw = SAMPLE_XML.replace(b"<sketch>None</sketch>", b"<sketch>" + b"<x/>" * 25_000 + b"</sketch>")
    (reason,) = refused(raw).reasons
    assert reason.code == "too-large" and "20000" in reason.message


@pytest.mark.parametrize(
    "raw",
    [b"<", b"<a>", b"<a></b>", b"<a>A & B</a>", b"<a>\x01</a>", b"<a/><b/>", b"<?xml version='1.0'?>"],
)
def test_malformed_xml_is_not_xml(raw):
    (reason,) = refused(raw).reasons
    assert reason.code == "not-xml" and reason.message.startswith("XML mal formé")
