"""The EHR session reads proxy settings from the environment only when there are some, and the CA bundle once."""

from app.fhir.transport import http_session


def test_no_proxy_settings_means_none_are_looked_up_per_request(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    session = http_session({"PATH": "/usr/bin"})
    assert session.trust_env is False and session.verify is True


def test_a_ca_bundle_is_read_once_and_used_for_every_request(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    session = http_session({"REQUESTS_CA_BUNDLE": "/etc/ssl/hospital.pem", "CURL_CA_BUNDLE": "/other.pem"})
    assert session.trust_env is False and session.verify == "/etc/ssl/hospital.pem"
    assert http_session({"CURL_CA_BUNDLE": "/other.pem"}).verify == "/other.pem"


def test_proxy_or_netrc_settings_are_read_by_requests_as_usual(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for environ in ({"HTTPS_PROXY": "http://proxy.hospital.example:3128"}, {"no_proxy": "ehr.local"},
                    {"NETRC": "/etc/hospital.netrc"}):
        assert http_session(environ).trust_env is True
    (tmp_path / ".netrc").write_text("machine ehr login x password y\n")
    assert http_session({}).trust_env is True


def test_a_cookie_one_ehr_answer_sets_is_never_sent_with_another_users_request():
    import responses

    with responses.RequestsMock() as mock:
        mock.add(responses.GET, "https://ehr.test/fhir/Patient/a", json={}, headers={"Set-Cookie": "JSESSIONID=x; Path=/"})
        mock.add(responses.GET, "https://ehr.test/fhir/Patient/b", json={})
        session = http_session({})
        session.get("https://ehr.test/fhir/Patient/a")
        session.get("https://ehr.test/fhir/Patient/b")
        assert "Cookie" not in mock.calls[1].request.headers and not session.cookies
