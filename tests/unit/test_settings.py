"""Settings are read from one environment mapping, once: what each variable turns into."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.settings import PROJECTIONS_IN_APP, Settings


def test_nothing_set_gives_the_embedded_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings(cache_dir=settings.cache_dir)
    assert settings.database_url is None and settings.nats_url is None
    assert settings.projections_in_app is True
    assert settings.audit_seal_key is None
    assert settings.auth_env == {}


def test_the_cache_directory_follows_tocsin_then_xdg_then_the_home_cache() -> None:
    both = {"TOCSIN_CACHE_DIR": "/srv/cache", "XDG_CACHE_HOME": "/xdg"}
    assert Settings.from_env(both).cache_dir == Path("/srv/cache")
    assert Settings.from_env({"XDG_CACHE_HOME": "/xdg"}).cache_dir == Path("/xdg/tocsin")
    assert Settings.from_env({}).cache_dir == Path.home() / ".cache" / "tocsin"


def test_server_processes_started_without_a_projection_worker() -> None:
    assert Settings.from_env({PROJECTIONS_IN_APP: "0"}).projections_in_app is False
    assert Settings.from_env({PROJECTIONS_IN_APP: "1"}).projections_in_app is True


def test_the_seal_key_is_read_stripped_and_a_blank_one_is_none() -> None:
    assert Settings.from_env({"TOCSIN_AUDIT_SEAL_KEY": " c2VlZA== \n"}).audit_seal_key == "c2VlZA=="
    assert Settings.from_env({"TOCSIN_AUDIT_SEAL_KEY": "  "}).audit_seal_key is None


def test_only_the_identity_provider_s_variables_are_kept_for_auth() -> None:
    env = {
        "TOCSIN_JWT_ISSUER": "https://idp.example.gouv.fr", "TOCSIN_JWKS_URL": "file:///jwks.json",
        "TOCSIN_DEMO_LOGIN": "0", "TOCSIN_INGEST_AUTH": "open", "TOCSIN_DATABASE_URL": "postgresql://db/tocsin",
        "PATH": "/usr/bin",
    }
    assert Settings.from_env(env).auth_env == {
        "TOCSIN_JWT_ISSUER": "https://idp.example.gouv.fr", "TOCSIN_JWKS_URL": "file:///jwks.json",
        "TOCSIN_DEMO_LOGIN": "0", "TOCSIN_INGEST_AUTH": "open",
    }


def test_the_openid_connect_settings_are_read_once_and_the_secret_never_shown() -> None:
    env = {"TOCSIN_OIDC_ISSUER": " https://auth.example.gouv.fr/api/v2 ", "TOCSIN_OIDC_CLIENT_ID": "tocsin",
           "TOCSIN_OIDC_CLIENT_SECRET": "tres-secret"}
    settings = Settings.from_env(env)
    assert settings.oidc_issuer == "https://auth.example.gouv.fr/api/v2"
    assert (settings.oidc_client_id, settings.oidc_client_secret) == ("tocsin", "tres-secret")
    assert "tres-secret" not in repr(settings)
    assert set(settings.auth_env) == set(env)  # the demonstration refuses to start beside them
    assert Settings.from_env({"TOCSIN_OIDC_ISSUER": ""}).oidc_issuer is None
def test_a_cluster_is_described_by_multi_host_urls_a_read_url_and_a_server_list() -> None:
    from adapters.nats.server import servers
    from adapters.store.event_store import CONNINFO_OPTIONS, application_env

    writers = "postgresql://app@db1:5432,db2:5432/tocsin?target_session_attrs=read-write&connect_timeout=3"
    readers = "postgresql://app@db1:5432,db2:5432/tocsin?target_session_attrs=prefer-standby"
    env = {"TOCSIN_DATABASE_URL": writers, "TOCSIN_READ_DATABASE_URL": readers, "TOCSIN_NATS_REPLICAS": "3",
           "TOCSIN_NATS_URL": "nats://n1:4222, nats://n2:4222,nats://n3:4222", "TOCSIN_CIPHER_KEY": "a2V5"}
    settings = Settings.from_env(env)
    assert settings.read_database_url == readers and settings.nats_replicas == 3
    assert servers(settings.nats_url or "") == ["nats://n1:4222", "nats://n2:4222", "nats://n3:4222"]
    assert Settings.from_env({}).read_database_url is None and Settings.from_env({}).nats_replicas == 1
    # The store's pool gets every host and the options the library has no variable for.
    library = application_env(settings, writers)
    assert (library["POSTGRES_HOST"], library["POSTGRES_PORT"]) == ("db1,db2", "5432,5432")
    import json

    assert json.loads(library[CONNINFO_OPTIONS]) == {"target_session_attrs": "read-write", "connect_timeout": "3"}


def test_push_subscriptions_may_name_the_browsers_push_services_only_unless_configured():
    from domain.directory import DirectoryError, check_push_subscription

    keys = {"p256dh": "B" + "A" * 86, "auth": "A" * 22}
    default = Settings.from_env({})
    assert check_push_subscription("https://fcm.googleapis.com/fcm/send/x", keys, default.push_services)
    assert check_push_subscription("https://wns2-par02p.notify.windows.com/w/?token=x", keys, default.push_services)
    for elsewhere in ("https://127.0.0.1/x", "https://intranet.prefecture.gouv.fr/x", "https://evilnotify.windows.com/x",
                      "http://127.0.0.1:9000/x"):
        with pytest.raises(DirectoryError):
            check_push_subscription(elsewhere, keys, default.push_services)
    local = Settings.from_env({"TOCSIN_PUSH_SERVICES": " 127.0.0.1 , Push.Example.org"})
    assert local.push_services == ("127.0.0.1", "push.example.org")
    assert check_push_subscription("http://127.0.0.1:9000/x", keys, local.push_services)
