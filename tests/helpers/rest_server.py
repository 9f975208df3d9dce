"""A real local HTTP server scripted like Massive's snapshot endpoint, for the REST tests."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def contract(i: int, **override) -> dict:
    result = {
        "details": {"ticker": f"O:ABC261218C{100000 + i * 1000:08d}", "contract_type": "call",
                    "expiration_date": "2026-12-18", "shares_per_contract": 100,
                    "strike_price": 100.0 + i},
        "open_interest": 10 * i,
        "implied_volatility": 0.3,
        "greeks": {"delta": 0.5, "gamma": 0.05, "theta": -0.02, "vega": 0.1},
        "last_quote": {"bid": 1.0, "ask": 1.1},
        "day": {"volume": 5.0},
        "underlying_asset": {"ticker": "ABC", "price": 101.5, "last_updated": 1764622800000000000},
    }  # fmt: skip
    result.update(override)
    return result


class Server:
    """Pages per underlying: a list of (status, body, headers) served in order of the cursor."""

    def __init__(self):
        self.requests: list[tuple[str, str | None]] = []
        self.script: dict[str, list] = {}
        self.delay = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 - http.server's name
                url = urlsplit(self.path)
                server.requests.append((self.path, self.headers.get("Authorization")))
                underlying = url.path.rsplit("/", 1)[-1]
                cursor = parse_qs(url.query).get("cursor", ["0"])[0]
                steps = server.script[underlying]
                status, body, headers = steps.pop(0) if len(steps) > 1 else steps[0]
                if callable(body):
                    body = body(cursor)
                if server.delay:
                    time.sleep(server.delay)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except BrokenPipeError:  # the client timed out and hung up: expected
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def paged(self, underlying: str, contracts: list[dict], per_page: int, loop: bool = False):
        """Serve `contracts` in pages; `loop` makes the last page point back to the first."""

        def page(cursor: str) -> dict:
            start = int(cursor)
            body = {"status": "OK", "results": contracts[start : start + per_page]}
            nxt = start + per_page
            if nxt < len(contracts):
                body["next_url"] = f"{self.url}/v3/snapshot/options/{underlying}?cursor={nxt}"
            elif loop:
                body["next_url"] = f"{self.url}/v3/snapshot/options/{underlying}?cursor=0"
            return body

        self.script[underlying] = [(200, page, None)]
