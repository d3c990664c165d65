"""PLAUDIT_PROXY_UPSTREAMS is read as name=url pairs, and a bad one stops the server early."""

from plaudit.settings import from_environment


def test_upstreams_are_read_from_the_environment() -> None:
    settings = from_environment(
        {
            "PLAUDIT_PROXY_UPSTREAMS": " openai=https://api.openai.com/v1/ , local=http://127.0.0.1:11434/v1",
            "PLAUDIT_PROXY_TIMEOUT": "30",
        }
    )
    assert settings.proxy_upstreams == {
        "openai": "https://api.openai.com/v1",
        "local": "http://127.0.0.1:11434/v1",
    }
    assert settings.proxy_timeout == 30.0
    assert settings.problem() is None


def test_a_bad_upstream_is_a_problem() -> None:
    for value, expected in (
        ("openai", "needs an http:// or https:// URL"),
        ("open ai=https://x.example", "is not a name"),
        ("local=ftp://x.example", "needs an http:// or https:// URL"),
    ):
        problem = from_environment({"PLAUDIT_PROXY_UPSTREAMS": value}).problem()
        assert problem is not None and expected in problem, (value, problem)
