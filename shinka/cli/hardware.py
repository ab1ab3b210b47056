"""`shinka hardware list|show|validate|calibrate`: inspect, check and measure hardware profiles."""

from __future__ import annotations

import argparse
from pathlib import Path


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("hardware", help="list, show, validate or calibrate hardware profiles")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    actions.add_parser("list", help="list the profiles in hardware_profiles/").set_defaults(handler=_list)

    show = actions.add_parser("show", help="print one profile with defaults filled in")
    show.add_argument("name", help="profile name (file stem in hardware_profiles/)")
    show.set_defaults(handler=_show)

    validate = actions.add_parser("validate", help="check a profile file; exit 2 with one line on error")
    validate.add_argument("file", help="path of a profile YAML file")
    validate.set_defaults(handler=_validate)

    calibrate = actions.add_parser(
        "calibrate",
        help="measure this machine and write a profile fitted to it",
        description=(
            "Run microbenchmarks through torch (fp32 and bf16 matrix products, int8 where torch._int_mm "
            "has a CPU kernel, streaming bandwidth, dispatch cost), time reference transformers, fit "
            "efficiency.compute, efficiency.memory, operator_overhead_us, layer_overhead_us, "
            "layer_token_overhead_us and step_overhead_us, and write NAME.yaml with runtime_format fp32. "
            "Power comes from RAPL when readable, otherwise from the file it replaces or marked estimates. "
            "Takes about 10 s on 2 cores."
        ),
    )
    calibrate.add_argument("--name", required=True, help="profile name; local-cpu also sets measure: true")
    calibrate.add_argument("--out", type=Path, default=None, help="folder to write NAME.yaml into (default: hardware_profiles/)")
    calibrate.add_argument("--threads", type=_positive_int, default=None, help="torch threads (default: CPUs this process may use)")
    calibrate.add_argument("--batch", type=_positive_int, default=1, help="sequences per reference pass (default 1)")
    calibrate.add_argument("--context", type=_positive_int, default=64, help="tokens per reference prefill (default 64)")
    calibrate.add_argument(
        "--quick", action="store_true",
        help="smaller benchmarks and 3 reference models timed in one round (a few seconds, coarser fit)",
    )
    calibrate.set_defaults(handler=_calibrate)


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


def _calibrate(args: argparse.Namespace) -> int:
    from shinka.hardware.calibrate import calibrate

    path, profile, fit = calibrate(
        args.name, out_dir=args.out, threads=args.threads, quick=args.quick, batch=args.batch, context=args.context
    )
    peaks = ", ".join(f"{fmt} {value / 1e9:.1f}" for fmt, value in profile.peak_flops.items())
    print(f"wrote {path}")
    print(f"  peak GFLOP/s: {peaks}")
    print(f"  memory bandwidth: {profile.memory_bandwidth_gbs:.1f} GB/s")
    print(f"  efficiency: compute {profile.efficiency.compute:.3g}, memory {profile.efficiency.memory:.3g}")
    print(
        f"  overhead us: operator {profile.operator_overhead_us:.3g}, layer {profile.layer_overhead_us:.3g}, "
        f"layer and token {profile.layer_token_overhead_us:.3g}, step {profile.step_overhead_us:.3g}"
    )
    print(f"  fit on {len(fit.relative_errors)} reference passes: median absolute error {fit.median_abs_error:.1%}")
    return 0
