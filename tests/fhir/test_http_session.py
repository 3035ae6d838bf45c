"""The EHR session reads proxy settings from the environment only when there are some."""

from app.fhir.transport import http_session


def test_no_proxy_settings_means_none_are_looked_up_per_request(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert http_session({"PATH": "/usr/bin"}).trust_env is False


def test_proxy_or_ca_settings_are_honoured(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for environ in ({"HTTPS_PROXY": "http://proxy.hospital.example:3128"}, {"no_proxy": "ehr.local"},
                    {"REQUESTS_CA_BUNDLE": "/etc/ssl/hospital.pem"}):
        assert http_session(environ).trust_env is True
    (tmp_path / ".netrc").write_text("machine ehr login x password y\n")
    assert http_session({}).trust_env is True
