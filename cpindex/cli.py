"""The `cpindex` command line: init, seed, serve, user, audit, source, feed.

Exit codes: 0 ok, 2 usage error, 1 anything else, with a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from cpindex.audit.organisations import ORGANISATION_KINDS
from cpindex.config import ServerSettings, SettingError, add_arguments, resolve
from cpindex.store.db import default_database_url, make_engine, serialised, upgrade

if TYPE_CHECKING:
    from cpindex.auth.sealing import SecretBox

__all__ = ["main"]


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cpindex", description="The central children's index (synthetic).")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    init = commands.add_parser("init", help="create or upgrade the store and its secret key")
    init.add_argument("--db", default=None)
    _key_file_option(init)

    seed = commands.add_parser("seed", help="create the schema, synthetic children, demo users")
    seed.add_argument("--children", type=int, required=True)
    seed.add_argument("--seed", type=int, default=1)
    seed.add_argument("--db", default=None)
    seed.add_argument("--quiet", action="store_true")
    _key_file_option(seed)

    serve = commands.add_parser("serve", help="serve the FHIR API")
    serve.add_argument(
        "--db", default=None, metavar="URL", help="default CPINDEX_DATABASE_URL, then SQLite"
    )
    serve.add_argument("--demo-codes", action="store_true", help="print demo sign-in codes")
    add_arguments(serve)  # every server setting, declared once in cpindex.config
    _key_file_option(serve)

    user = commands.add_parser("user", help="manage user accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True, parser_class=_Parser)
    add = user_commands.add_parser("add", help="add a user; prints the TOTP URI")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("practitioner", "index-team", "admin"))
    add.add_argument("--org", required=True)
    add.add_argument(
        "--org-kind",
        default="other",
        choices=ORGANISATION_KINDS,
        help="what the organisation is (the misuse report reads it); default other",
    )
    add.add_argument("--display-name", default=None)
    add.add_argument("--family-name", default=None)
    add.add_argument("--postcode-district", default=None)
    add.add_argument("--work-start", type=_clock_time, default=None, help="HH:MM local")
    add.add_argument("--work-end", type=_clock_time, default=None, help="HH:MM local")
    add.add_argument("--password-stdin", action="store_true", required=True)
    add.add_argument("--db", default=None)
    _key_file_option(add)
    reset = user_commands.add_parser("reset", help="new password and TOTP secret")
    reset.add_argument("name")
    reset.add_argument("--password-stdin", action="store_true", required=True)
    reset.add_argument("--db", default=None)
    _key_file_option(reset)
    for name, text in (("disable", "disable a user"), ("unlock", "clear a lock-out")):
        sub = user_commands.add_parser(name, help=text)
        sub.add_argument("name")
        sub.add_argument("--db", default=None)
    link = user_commands.add_parser(
        "link", help="receive the notices of the practitioner with this work email"
    )
    link.add_argument("name")
    link.add_argument("--practitioner-email", required=True)
    link.add_argument("--db", default=None)
    listing = user_commands.add_parser("list", help="list users")
    listing.add_argument("--db", default=None)

    audit = commands.add_parser("audit", help="check and read the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, parser_class=_Parser)
    verify = audit_commands.add_parser("verify", help="check the hash chain; exit 1 if broken")
    verify.add_argument(
        "--expect-head",
        metavar="ID:HASH",
        default=None,
        help="an anchor kept elsewhere: fail unless that row is still there, unchanged",
    )
    verify.add_argument("--db", default=None)
    anchor = audit_commands.add_parser("anchor", help="print the chain head to keep elsewhere")
    anchor.add_argument("--db", default=None)
    report = audit_commands.add_parser("report", help="accesses worth a question (misuse rules)")
    report.add_argument("--since", required=True, type=_date, help="YYYY-MM-DD")
    report.add_argument("--db", default=None)
    _feed_parsers(commands)
    return parser


def _key_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--secret-key-file",
        type=Path,
        default=None,
        help="AES key sealing TOTP secrets (default: CPINDEX_SECRET_KEY_FILE, else "
        "secret.key in the user's data folder; made 0600 when absent)",
    )


def _secret_box(engine: Engine, key_file: Path | None) -> tuple[SecretBox, bool, int]:
    """The key (made when absent) and every plain TOTP secret sealed with it:
    (box, key made now, secrets sealed now). What `cpindex init` does; seed, serve and
    `user add|reset` do it too, so a store never keeps plain secrets once a key exists."""
    from cpindex.auth.sealing import open_secret_box, seal_plain_secrets

    upgrade(engine)
    with serialised(engine) as conn:
        box, created = open_secret_box(conn, key_file)
        return box, created, seal_plain_secrets(conn, box)


def _feed_parsers(commands: Any) -> None:
    """`cpindex source ...` and `cpindex feed ...` (council data feeds, docs/feeds.md)."""
    from cpindex.feeds.formats import DEFAULT_MAX_BYTES
    from cpindex.feeds.link import DEFAULT_LINK, DEFAULT_PRESENT, DEFAULT_REVIEW

    src = commands.add_parser("source", help="organisations allowed to send feeds")
    src_commands = src.add_subparsers(dest="source_command", required=True, parser_class=_Parser)
    src_add = src_commands.add_parser("add", help="register a source organisation")
    src_add.add_argument("name")
    src_add.add_argument("--db", default=None)
    src_list = src_commands.add_parser("list", help="list sources and their current feed")
    src_list.add_argument("--db", default=None)

    feed = commands.add_parser("feed", help="load council data feeds; the review queue")
    feed_commands = feed.add_subparsers(dest="feed_command", required=True, parser_class=_Parser)
    load = feed_commands.add_parser("load", help="check, link and load a CSV or FHIR feed")
    load.add_argument("file", type=Path)
    load.add_argument("--source", required=True)
    load.add_argument("--db", default=None)
    load.add_argument("--link-threshold", type=_probability, default=DEFAULT_LINK)
    load.add_argument("--review-threshold", type=_probability, default=DEFAULT_REVIEW)
    load.add_argument(
        "--present-share",
        type=_probability,
        default=DEFAULT_PRESENT,
        help="the share of rows whose child is expected in the index",
    )
    load.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES)
    load.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    load.add_argument("--report", type=Path, default=None, help="write the report as JSON")
    train = feed_commands.add_parser("train", help="retrain the linkage model on the index")
    train.add_argument("--db", default=None)
    train.add_argument("--rows", type=int, default=4000, help="synthetic feed rows")
    train.add_argument("--seed", type=int, default=7)
    train.add_argument("--out", type=Path, default=None, help="default: the packaged model")
    review = feed_commands.add_parser("review", help="the review queue of doubtful links")
    review.add_argument("decision", nargs="?", choices=("link", "not-this-child"))
    review.add_argument("--id", type=int, default=None)
    review.add_argument("--by", default="cli", help="who decides (audited)")
    review.add_argument("--db", default=None)
    demo = feed_commands.add_parser(
        "demo", help="load the demo feed (review items for cpdesk demo)"
    )
    demo.add_argument("--db", default=None)


def _probability(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("give a probability between 0 and 1") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError("give a probability between 0 and 1")
    return value


def _clock_time(raw: str) -> str:
    hours, _, minutes = raw.strip().partition(":")
    try:
        return dt.time(int(hours), int(minutes)).strftime("%H:%M")
    except ValueError:
        raise argparse.ArgumentTypeError("give the time as HH:MM") from None


def _date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("give the date as YYYY-MM-DD") from None


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise _UsageError("no password on standard input")
    return password


def _settings(args: argparse.Namespace) -> ServerSettings:
    """The server settings (options > CPINDEX_* variables > defaults), checked as a whole."""
    try:
        settings = resolve(vars(args), os.environ)
    except SettingError as exc:
        raise _UsageError(str(exc)) from None
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise _UsageError("give --tls-cert and --tls-key together")
    if not settings.tls_cert and not settings.behind_proxy and not _is_loopback(settings.host):
        raise _UsageError(
            f"refusing plain HTTP on {settings.host}: give --tls-cert and --tls-key, "
            "or --behind-proxy when a TLS-terminating proxy is in front"
        )
    return settings


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def _run(args: argparse.Namespace) -> int:
    url = args.db or default_database_url()
    if args.command == "init":
        engine = make_engine(url)
        try:
            _, created, sealed = _secret_box(engine, args.secret_key_file)
        finally:
            engine.dispose()
        key = "made" if created else "kept"
        print(f"store ready; secret key {key}; {sealed} TOTP secrets sealed now")
        return 0
    if args.command == "seed":
        from cpindex.seed.generate import seed_database

        if args.children < 1:
            raise _UsageError("--children must be at least 1")

        def progress(done: int) -> None:
            if not args.quiet:
                print(f"seeded {done:,} children", file=sys.stderr, flush=True)

        result = seed_database(
            make_engine(url, bulk_load=True),
            children=args.children,
            seed=args.seed,
            progress=progress,
        )
        engine = make_engine(url)
        try:
            _secret_box(engine, args.secret_key_file)
        finally:
            engine.dispose()
        verb = "seeded" if result.created else "already seeded with"
        print(f"{verb} {result.children} children (seed {result.seed}) in {result.seconds:.1f} s")
        return 0
    if args.command == "serve":
        from cpindex.serve import serve

        settings = _settings(args)
        engine = make_engine(url)
        try:
            box = _secret_box(engine, args.secret_key_file)[0]
        finally:
            engine.dispose()
        return serve(url, settings=settings, demo_codes=args.demo_codes, box=box)
    if args.command == "audit":
        return _audit(args, url)
    if args.command in ("source", "feed"):
        from cpindex.feeds.cli import run_feed_command

        engine = make_engine(url)
        try:
            upgrade(engine)
            return run_feed_command(args, engine)
        except ValueError as exc:
            raise _UsageError(str(exc)) from None
        finally:
            engine.dispose()
    return _user(args, url)


def _audit(args: argparse.Namespace, url: str) -> int:
    engine = make_engine(url)
    try:
        return _audit_on(args, engine)
    finally:
        engine.dispose()


def _audit_on(args: argparse.Namespace, engine: Engine) -> int:
    upgrade(engine)
    if args.audit_command in ("verify", "anchor"):
        return _verify(args, engine)
    from cpindex.audit.misuse import find_misuse

    since = dt.datetime.combine(args.since, dt.time(), tzinfo=dt.UTC)
    with engine.connect() as conn:
        findings = find_misuse(conn, since)
    for finding in findings:
        print("\t".join(finding.columns()))
    print(f"{len(findings)} accesses worth a question since {args.since}", file=sys.stderr)
    return 0


def _verify(args: argparse.Namespace, engine: Engine) -> int:
    """`audit verify [--expect-head ID:HASH]` and `audit anchor` (which verifies first)."""
    from cpindex.audit import chain

    expected = None
    if getattr(args, "expect_head", None) is not None:
        try:
            expected = chain.parse_anchor(args.expect_head)
        except ValueError as exc:
            raise _UsageError(str(exc)) from None
    with engine.connect() as conn:
        count, head, broken = chain.verify_chain(conn)
        if broken is None and expected is not None:
            broken = chain.check_anchor(conn, *expected)
        held = chain.anchor(conn) if broken is None and args.audit_command == "anchor" else None
    if broken is not None:
        print(
            f"cpindex: audit chain broken at row {broken.row_id} ({broken.kind}): {broken.message}",
            file=sys.stderr,
        )
        return 1
    if held is not None:
        print(held.line())
        return 0
    reached = f"; anchored row {expected[0]} in place" if expected else ""
    print(f"audit chain intact: {count} rows, head {head}{reached}")
    return 0


def _user(args: argparse.Namespace, url: str) -> int:
    engine = make_engine(url)
    try:
        return _user_on(args, engine)
    finally:
        engine.dispose()


def _user_on(args: argparse.Namespace, engine: Engine) -> int:
    """Each change and its audit row (with the OS user who made it) commit together."""
    from cpindex.audit.organisations import set_organisation_kind
    from cpindex.auth import users
    from cpindex.notices.accounts import link_practitioner

    upgrade(engine)
    box = None
    if args.user_command in ("add", "reset"):
        password = _read_password()
        box = _secret_box(engine, args.secret_key_file)[0]
    by = users.os_user()
    lines: list[str] = []  # printed once the change has committed
    with serialised(engine) as conn:
        if args.user_command == "add":
            uri = users.create_user(
                conn,
                args.name,
                password,
                role=args.role,
                organisation=args.org,
                display_name=args.display_name,
                family_name=args.family_name,
                postcode_district=args.postcode_district,
                work_hours=(args.work_start, args.work_end),
                box=box,
                by=by,
            )
            set_organisation_kind(conn, args.name, args.org_kind)
            lines.append(uri)
        elif args.user_command == "reset":
            lines.append(users.reset_user(conn, args.name, password, by=by, box=box))
        elif args.user_command == "disable":
            users.disable_user(conn, args.name, by=by)
        elif args.user_command == "unlock":
            users.unlock_user(conn, args.name, by=by)
        elif args.user_command == "link":  # notices (cpindex.notices.accounts)
            count = link_practitioner(conn, args.name, args.practitioner_email, by=by)
            lines.append(f"linked {count} practitioner row(s)")
        else:
            for row in users.list_users(conn):
                state = "disabled" if row.disabled else "active"
                lines.append(f"{row.username}\t{row.role}\t{row.organisation}\t{state}")
    for line in lines:
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        return _run(args)
    except _UsageError as exc:
        print(f"cpindex: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 1
    except Exception as exc:
        from cpindex.auth.sealing import KeyFileError
        from cpindex.auth.users import UnknownUser, UserExists
        from cpindex.feeds.cli import describe_error

        feed_message = describe_error(exc)
        if feed_message is not None:
            message = feed_message
        elif isinstance(exc, UserExists):
            message = f"user {exc} already exists"
        elif isinstance(exc, (KeyFileError, ValueError)):
            message = (str(exc) or type(exc).__name__).splitlines()[0][:300]
        elif isinstance(exc, UnknownUser):
            message = f"no user {exc}"
        else:
            message = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        print(f"cpindex: {message}", file=sys.stderr)
        return 1
