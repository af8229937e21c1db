"""Command line: serve a synthetic store in the foreground until SIGINT or SIGTERM.

python -m bigcommerce_sandbox --port 8765 --seed 1 --customers 500 --orders 1500
python -m bigcommerce_sandbox --quota 45 --window-ms 3000 --rate-window sliding \
    --competitor-share 0.33 --fault-cut 0.01
"""

from __future__ import annotations

import argparse
import signal
import threading
from dataclasses import fields

from .faults import FAULT_RATES
from .layout import Sparsity
from .ratelimit import WINDOW_MODELS
from .server import SandboxServer
from .store import SandboxStore


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bigcommerce_sandbox",
        description="Serve a synthetic BigCommerce store locally.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--orders", type=int, default=1500)
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--categories", type=int, default=12)
    parser.add_argument("--history-days", type=int, default=90)
    parser.add_argument(
        "--sparse",
        nargs="*",
        choices=[option.name for option in fields(Sparsity)],
        metavar="OPTION",
        help="leave fields empty everywhere, as real stores may: every option with no names, "
        f"else the ones named ({', '.join(option.name for option in fields(Sparsity))})",
    )
    parser.add_argument(
        "--quota", type=int, default=150, help="requests per window; 0 means unlimited"
    )
    parser.add_argument("--window-ms", type=int, default=30_000)
    parser.add_argument(
        "--rate-window",
        choices=WINDOW_MODELS,
        default="fixed",
        help="fixed: the quota refills at each reset; sliding: a request frees its slot one "
        "window after it was made",
    )
    parser.add_argument(
        "--competitor-share",
        type=float,
        default=0.0,
        help="share of the quota another app spends in a burst at the start of every window",
    )
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--page-limit-max", type=int, default=250)
    for kind in FAULT_RATES:
        parser.add_argument(f"--fault-{kind}", type=float, default=0.0, dest=f"fault_{kind}")
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--no-gzip", action="store_true")
    return parser.parse_args(argv)


def _sparsity(names: list[str] | None) -> bool | Sparsity:
    """`--sparse` alone turns every option on; with names, only those."""
    if names is None:
        return False
    return Sparsity(**dict.fromkeys(names, True)) if names else True


def main(argv: list[str] | None = None) -> None:
    """Start the server, print where it is and how to authenticate, wait for a signal."""
    args = _arguments(argv)
    store = SandboxStore(
        seed=args.seed,
        customers=args.customers,
        orders=args.orders,
        products=args.products,
        categories=args.categories,
        history_days=args.history_days,
        sparse=_sparsity(args.sparse),
    )
    rates = {kind: getattr(args, f"fault_{kind}") for kind in FAULT_RATES}
    try:
        server = SandboxServer(
            store,
            host=args.host,
            port=args.port,
            quota=args.quota or None,
            window_ms=args.window_ms,
            window_model=args.rate_window,
            competitor_share=args.competitor_share,
            latency_ms=args.latency_ms,
            page_limit_max=args.page_limit_max,
            fault_rates={kind: rate for kind, rate in rates.items() if rate},
            fault_seed=args.fault_seed,
            gzip=not args.no_gzip,
        )
    except ValueError as error:  # settings that contradict each other
        raise SystemExit(f"sandbox: {error}") from None
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    with server:
        print(f"BIGCOMMERCE_API_URL={server.url}", flush=True)
        print(f"BIGCOMMERCE_STORE_HASH={store.store_hash}", flush=True)
        print(f"BIGCOMMERCE_ACCESS_TOKEN={store.access_token}", flush=True)
        stopping.wait()


if __name__ == "__main__":
    main()
