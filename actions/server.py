"""The action server, private: it binds 127.0.0.1 and refuses every call without the shared secret.

rasa_sdk's own launcher (`python -m rasa_sdk`) listens on every interface and runs any action for
whoever posts a made-up tracker to /webhook — with the API's service token behind it, e.g. another
customer's balance. This launcher builds the same Sanic app and adds a request middleware: every
request except GET /health (which says only "ok") needs `Authorization: Bearer
$ACTION_SERVER_TOKEN`, compared in constant time; anything else is answered 401. Rasa sends the
header from its action_endpoint (bot/endpoints.yml, docker/endpoints.yml).

    ACTION_SERVER_TOKEN=… python -m actions.server [--host 127.0.0.1] [--port 5055]

ACTIONS_HOST / ACTIONS_PORT (or --host / --port) choose the interface and port: 127.0.0.1 unless
another container calls the server (docker compose, Kubernetes). Without ACTION_SERVER_TOKEN the
server does not start.
"""
from __future__ import annotations

import argparse
import hmac
import os
from functools import partial

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.worker.loader import AppLoader

TOKEN_ENV = "ACTION_SERVER_TOKEN"
OPEN = {("GET", "/health")}


def create_app(executor: ActionExecutor, *, token: str) -> Sanic:
    """rasa_sdk's app (webhook, actions list, health) behind the bearer-token check."""
    if not token.strip():
        raise ValueError(f"{TOKEN_ENV} is empty")
    app = create_app_for_serve(executor, cors_origins=None)  # no browser ever calls it: no CORS
    expected = f"Bearer {token}".encode()

    @app.on_request
    async def require_token(request: Request) -> HTTPResponse | None:
        if (request.method, request.path) in OPEN:
            return None
        if hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
            return None
        return response.json({"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"})

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Zhidian's action server (rasa_sdk), token-checked")
    parser.add_argument("--host", default=os.environ.get("ACTIONS_HOST", "127.0.0.1"),
                        help="interface to bind (ACTIONS_HOST; default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTIONS_PORT", "5055")),
                        help="port (ACTIONS_PORT; default 5055)")
    parser.add_argument("--actions", default="actions", help="package of the actions")
    utils.add_logging_level_option_arguments(parser)
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "")
    if not token.strip():
        parser.exit(2, f"{TOKEN_ENV} is not set: the action server runs only with the secret Rasa sends "
                       "(bot/endpoints.yml)\n")
    utils.configure_colored_logging(args.loglevel)
    utils.update_sanic_log_level()
    executor = ActionExecutor()
    executor.register_package(args.actions)
    # As rasa_sdk.endpoint.run: Sanic rebuilds the app in each worker from this factory.
    loader = AppLoader(factory=partial(create_app, executor, token=token))
    app = loader.load()
    app.prepare(host=args.host, port=args.port, workers=utils.number_of_sanic_workers())
    Sanic.serve(primary=app, app_loader=loader)


if __name__ == "__main__":
    main()
