"""`python -m codemode.kernel`: run the kernel, or `install` its spec."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["install"]:
        return install_command(args[1:])
    from ipykernel.kernelapp import IPKernelApp

    from codemode.kernel._kernel import CodeModeKernel

    IPKernelApp.launch_instance(argv=args, kernel_class=CodeModeKernel)
    return 0


def install_command(argv: list[str], prog: str = "python -m codemode.kernel install") -> int:
    from codemode.kernel._install import KERNEL_NAME, install

    parser = argparse.ArgumentParser(prog=prog, description="Install the codemode kernel spec for Jupyter.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="for this user (~/.local/share/jupyter)")
    where.add_argument("--sys-prefix", action="store_true", help="in this Python environment (sys.prefix)")
    where.add_argument("--prefix", help="under this prefix (PREFIX/share/jupyter/kernels)")
    parser.add_argument("--name", default=KERNEL_NAME, help=f"the kernel's name (default: {KERNEL_NAME})")
    args = parser.parse_args(argv)
    prefix = sys.prefix if args.sys_prefix else args.prefix
    path = install(user=args.user, prefix=prefix, name=args.name)
    print(f"installed the kernel spec {args.name!r} in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
