"""`python -m examples.chat`: run the chat demo against a Plaudit server."""

import argparse
import logging
import os
import threading
import time

import uvicorn
from examples.chat.app import create_app
from examples.chat.proxied import ProxiedModel


def _exit_with_parent() -> None:
    """`plaudit demo` starts us; if it is killed outright (SIGKILL), we must not linger."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def main() -> None:
    """Parse the flags (defaults from PLAUDIT_URL / PLAUDIT_TOKEN) and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--plaudit-url", default=os.environ.get("PLAUDIT_URL", "http://127.0.0.1:8000")
    )
    parser.add_argument("--token", default=os.environ.get("PLAUDIT_TOKEN"))
    parser.add_argument("--browser-token", default=os.environ.get("PLAUDIT_BROWSER_TOKEN"))
    parser.add_argument(
        "--proxy-url",
        default=os.environ.get("CHAT_PROXY_URL"),
        help="Ask a real model through Plaudit's proxy at this base URL "
        "(e.g. http://127.0.0.1:8000/proxy/openai) instead of the canned answers.",
    )
    parser.add_argument("--model", default=os.environ.get("CHAT_MODEL", "gpt-4o-mini"))
    parser.add_argument(
        "--provider-key",
        default=os.environ.get("OPENAI_API_KEY"),
        help="The model provider's key, sent upstream as Authorization (default $OPENAI_API_KEY).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="Stop when the process that started us ends.",
    )
    args = parser.parse_args()
    if args.exit_with_parent:
        _exit_with_parent()
    # The SDK's HTTP requests are routine; keep the terminal for what the user should read.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    model = None
    if args.proxy_url:
        model = ProxiedModel(args.proxy_url, args.model, args.token, args.provider_key)
    app = create_app(args.plaudit_url, args.token, args.browser_token, model)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
