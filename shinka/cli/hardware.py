"""`shinka hardware list|show|validate`: inspect and check hardware profiles."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("hardware", help="list, show or validate hardware profiles")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    actions.add_parser("list", help="list the profiles in hardware_profiles/").set_defaults(handler=_list)
    show = actions.add_parser("show", help="print one profile")
    show.add_argument("name")
    show.set_defaults(handler=_show)
    validate = actions.add_parser("validate", help="check a profile file; exit 2 with one line on error")
    validate.add_argument("file")
    validate.set_defaults(handler=_validate)


def _list(args: argparse.Namespace) -> int:
    from shinka.hardware.profile import available_profiles, load_named_profile

    for name in available_profiles():
        profile = load_named_profile(name)
        mode = "measured" if profile.measure else "estimated"
        print(f"{name:28s} {profile.kind:4s} {mode:9s} {profile.description}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from shinka.hardware.profile import load_named_profile
    from shinka.yamlio import dump_yaml

    print(dump_yaml(load_named_profile(args.name).model_dump(mode="json")), end="")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from shinka.hardware.profile import load_profile

    profile = load_profile(args.file)
    print(f"{args.file}: valid profile '{profile.name}'")
    return 0
