#!/usr/bin/env python3
"""Medians and Markdown tables for the comparison scripts in bench/ (python3 stdlib only).

  results.py value NAME < output        prints "VALUE UNIT" of the line "RESULT NAME VALUE UNIT"
  results.py median V...                 prints the median of the numbers given
  results.py table --a A --b B ROWS      prints one Markdown table comparing side A with side B

ROWS is a tab-separated file written by bench/lib/compare.sh, one row per benchmark:
  label <TAB> unit <TAB> A values (space-separated) <TAB> B values
A value "fail" marks a failed run; it is left out of the median and counted in the table.
"""
import argparse
import statistics
import sys


def result_value(name, lines):
    for line in lines:
        f = line.split()
        if len(f) == 4 and f[0] == "RESULT" and f[1] == name:
            float(f[2])  # must parse
            return f"{f[2]} {f[3]}"
    return None


def result_values(text):
    """{NAME: VALUE} of every "RESULT NAME VALUE UNIT" line in text."""
    values = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) == 4 and f[0] == "RESULT":
            values[f[1]] = float(f[2])
    return values


def median_of(values):
    nums = [float(v) for v in values if v != "fail"]
    return statistics.median(nums) if nums else None


def fmt(x):
    if x is None:
        return "failed"
    return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"


def cell(values, unit):
    m = median_of(values)
    failed = sum(v == "fail" for v in values)
    text = "failed" if m is None else f"{fmt(m)} {unit}"
    if failed and m is not None:
        text += f" ({failed} of {len(values)} runs failed)"
    return text


def table(a, b, rows_path, out):
    out.write(f"| benchmark | {a} median | {b} median | {a}/{b} |\n")
    out.write("|---|---:|---:|---:|\n")
    with open(rows_path) as rows:
        for line in rows:
            label, unit, a_vals, b_vals = line.rstrip("\n").split("\t")
            a_vals, b_vals = a_vals.split(), b_vals.split()
            ma, mb = median_of(a_vals), median_of(b_vals)
            ratio = f"{ma / mb:.2f}" if ma is not None and mb else "n/a"
            out.write(f"| {label} | {cell(a_vals, unit)} | {cell(b_vals, unit)} | {ratio} |\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("value")
    v.add_argument("name")
    m = sub.add_parser("median")
    m.add_argument("values", nargs="+")
    t = sub.add_parser("table")
    t.add_argument("--a", required=True)
    t.add_argument("--b", required=True)
    t.add_argument("rows")
    args = p.parse_args()
    if args.cmd == "value":
        r = result_value(args.name, sys.stdin)
        if r is None:
            sys.exit(1)
        print(r)
    elif args.cmd == "median":
        print(fmt(median_of(args.values)))
    else:
        table(args.a, args.b, args.rows, sys.stdout)


if __name__ == "__main__":
    main()
