"""``omniseq drop --user U --items A,B``: one in-store basket as a Parquet drop in the pipeline's landing folder.

What a store's batch export does, for one basket: the running pipeline validates the file, joins the basket into
the customer's hybrid sequence and writes it to Redis, where ``/recommend`` and the storefront page
(``/storefront?user=U``) pick it up.
"""

from __future__ import annotations

import argparse
import time
import uuid

from omniseq.schema import StoreTransaction
from omniseq.settings import StackSettings
from pipeline.producer import write_drop


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", required=True, help="the customer's user id")
    parser.add_argument("--items", required=True, help="comma-separated raw item ids of the basket")
    parser.add_argument("--store", default="store-demo", help="the store id (default: store-demo)")
    parser.add_argument("--ts-ms", type=int, default=None, help="basket time, epoch ms (default: now)")


def run(args: argparse.Namespace) -> int:
    items = tuple(i.strip() for i in args.items.split(",") if i.strip())
    ts_ms = args.ts_ms if args.ts_ms is not None else int(time.time() * 1000)
    txn_id = f"manual-{uuid.uuid4().hex[:12]}"
    try:
        txn = StoreTransaction(txn_id, args.user, items, ts_ms, args.store)
    except (ValueError, TypeError) as exc:  # SchemaError is a ValueError
        print(f"error: {exc}")
        return 2
    path = write_drop([txn], StackSettings().dir("landing"), txn_id)
    print(f"dropped basket {txn_id} ({len(items)} items, store {args.store}) for {args.user}: {path}")
    return 0
