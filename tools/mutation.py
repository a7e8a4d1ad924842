"""Mutation testing of the functions that hold the app's promises, with cosmic-ray.

For each target in a targets file (tools/mutation_targets.toml): mutate only the named functions of
one module (cosmic-ray's line filter, the lines computed from the function names), run only the
tests that guard them, and list the mutants the tests let survive. cosmic-ray edits files in place,
so everything runs in a throwaway git worktree of a commit (the working folder is never touched).

    pip install -e ".[test,mutation]"
    python tools/mutation.py                         # every target, at HEAD
    python tools/mutation.py --only thresholds       # one target (name prefix)
    python tools/mutation.py --rev be5226d --targets tools/mutation_targets_v0_1.toml
    python tools/mutation.py --work /tmp/mut --recheck   # survivors of the kept sessions vs today's tests

Prints a Markdown table (mutants, killed, survived) and each survivor's diff; --json writes them too.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Operators left out (say so in the report): bit, shift, power, modulo and floor-division replacements
# of arithmetic (on the float arrays here they only raise TypeErrors or give absurd numbers).
EXCLUDED_OPERATORS = [r"core/ReplaceBinaryOperator_.*_(BitOr|BitAnd|BitXor|LShift|RShift|Pow|Mod|FloorDiv)$",
                      r"core/ReplaceUnaryOperator_.*_Invert$", r"core/ReplaceUnaryOperator_Invert_.*"]


def function_lines(path: Path, names: list[str]) -> list[str]:
    """'first-last' line ranges of the named functions ("f" or "Class.method") of a module."""
    tree = ast.parse(path.read_text())
    found: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            found[node.name] = node
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{node.name}.{item.name}"] = item
    missing = [n for n in names if n not in found]
    if missing:
        raise SystemExit(f"{path}: no function {', '.join(missing)}")
    return [f"{found[n].lineno}-{found[n].end_lineno}" for n in names]


def config_text(target: dict, lines: list[str], python: str, timeout: float) -> str:
    tests = " ".join(target["tests"])
    extra = target.get("pytest_args", "")
    command = f"{python} -m pytest -x -q -p no:randomly -p no:cacheprovider {extra} {tests}"
    return "\n".join([
        "[cosmic-ray]",
        f"module-path = {json.dumps(target['module'])}",
        f"timeout = {timeout:.0f}",
        "excluded-modules = []",
        f"test-command = {json.dumps(command)}",
        "[cosmic-ray.distributor]",
        'name = "local"',
        "[cosmic-ray.filters.operators-filter]",
        f"exclude-operators = {json.dumps(EXCLUDED_OPERATORS)}",
        "[cosmic-ray.filters.line-filter]",
        f"lines = {{ {json.dumps(target['module'])} = {json.dumps(lines)} }}",
        "",
    ])


def run(cmd: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(shlex.quote, cmd))} failed:\n{done.stdout}\n{done.stderr}")
    return done


def summarise(session: Path) -> dict:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome

    out = {"mutants": 0, "killed": 0, "survived": [], "errors": 0}
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            out["mutants"] += 1
            if result.worker_outcome != WorkerOutcome.NORMAL:
                out["errors"] += 1
            elif result.is_killed:
                out["killed"] += 1
            else:
                m = item.mutations[0]
                out["survived"].append({"line": m.start_pos[0], "operator": m.operator_name,
                                        "occurrence": m.occurrence, "diff": result.diff})
        out["pending"] = db.num_work_items - db.num_results
    return out


def run_target(target: dict, tree: Path, python: str, env: dict, work: Path, count_only: bool = False) -> dict:
    module = tree / target["module"]
    lines = function_lines(module, target["functions"])
    missing = [t for t in target["tests"] if not (tree / t.split("::")[0]).exists()]
    if missing:  # an older revision's tests: use those it has
        print(f"[{target['name']}] not in this revision: {', '.join(missing)}", file=sys.stderr)
        target = {**target, "tests": [t for t in target["tests"] if t not in missing]}
    started = time.monotonic()
    baseline = subprocess.run(shlex.split(f"{python} -m pytest -x -q -p no:randomly -p no:cacheprovider "
                                          f"{target.get('pytest_args', '')} {' '.join(target['tests'])}"),
                              cwd=tree, env=env, capture_output=True, text=True)
    if baseline.returncode != 0:
        raise SystemExit(f"{target['name']}: the tests fail without any mutation:\n{baseline.stdout[-3000:]}")
    seconds = time.monotonic() - started
    slug = "".join(c if c.isalnum() else "_" for c in target["name"])[:40]
    config, session = work / f"{slug}.toml", work / f"{slug}.sqlite"
    if not session.exists():  # else: continue an interrupted session where it stopped
        config.write_text(config_text(target, lines, python, timeout=3 * seconds + 60))
        run([python, "-m", "cosmic_ray.cli", "init", str(config), str(session)], tree, env)
        run([python, "-m", "cosmic_ray.tools.filters.operators_filter", str(session), str(config)], tree, env)
        run([python, "-m", "cosmic_ray.tools.filters.line_filter", str(session), "--config", str(config)], tree,
            env)
    if count_only:
        from cosmic_ray.work_db import WorkDB, use_db

        with use_db(str(session), WorkDB.Mode.open) as db:
            pending = sum(1 for _ in db.pending_work_items)
        print(f"[{target['name']}] {pending} mutants to run, tests {seconds:.0f} s", file=sys.stderr)
        return {"name": target["name"], "module": target["module"], "functions": target["functions"],
                "tests": target["tests"], "mutants": pending, "killed": 0, "survived": [], "errors": 0}
    print(f"[{target['name']}] {target['module']} {', '.join(target['functions'])}: tests {seconds:.0f} s "
          f"unmutated", file=sys.stderr, flush=True)
    run([python, "-m", "cosmic_ray.cli", "exec", str(config), str(session)], tree, env)
    found = summarise(session)
    found.update(name=target["name"], module=target["module"], functions=target["functions"],
                 tests=target["tests"], minutes=round((time.monotonic() - started) / 60, 1))
    print(f"[{target['name']}] {found['mutants']} mutants, {found['killed']} killed, "
          f"{len(found['survived'])} survived ({found['minutes']} min)", file=sys.stderr, flush=True)
    return found


def recheck(target: dict, tree: Path, python: str, env: dict, work: Path) -> dict:
    """Re-run the survivors of an earlier session (kept in `work`) against this revision's tests: apply
    each survivor's diff to the worktree, run the target's tests, undo. A diff that no longer applies
    (the code changed there) is counted apart."""
    slug = "".join(c if c.isalnum() else "_" for c in target["name"])[:40]
    earlier = summarise(work / f"{slug}.sqlite")
    tests = [t for t in target["tests"] if (tree / t.split("::")[0]).exists()]
    command = shlex.split(f"{python} -m pytest -x -q -p no:randomly -p no:cacheprovider "
                          f"{target.get('pytest_args', '')} {' '.join(tests)}")
    still, gone = [], 0
    for s in earlier["survived"]:
        diff = (s["diff"] or "") + "\n"
        applied = subprocess.run(["patch", "-p1", "-s", "-f", "--no-backup-if-mismatch", "-r", "-"], input=diff,
                                 text=True, cwd=tree, capture_output=True)
        if applied.returncode:
            gone += 1
            subprocess.run(["git", "checkout", "--", "."], cwd=tree, capture_output=True)
            continue
        try:
            caught = subprocess.run(command, cwd=tree, env=env, capture_output=True, timeout=900).returncode != 0
        except subprocess.TimeoutExpired:
            caught = True
        subprocess.run(["git", "checkout", "--", "."], cwd=tree, capture_output=True)
        if not caught:
            still.append(s)
    print(f"[{target['name']}] {len(earlier['survived'])} earlier survivors: {len(still)} survive these tests, "
          f"{gone} no longer apply", file=sys.stderr, flush=True)
    return {"name": target["name"], "module": target["module"], "functions": target["functions"],
            "tests": target["tests"], "mutants": len(earlier["survived"]), "killed": len(earlier["survived"]) -
            len(still) - gone, "survived": still, "errors": 0, "no_longer_apply": gone}


def report(results: list[dict], rev: str) -> str:
    rows = ["| target | module: functions | mutants | killed | survived |", "|---|---|---|---|---|"]
    for r in results:
        rows.append(f"| {r['name']} | `{r['module']}`: {', '.join(r['functions'])} | {r['mutants']} | "
                    f"{r['killed']} | {len(r['survived'])} |")
    text = [f"Mutation testing at {rev}", "", *rows, ""]
    for r in results:
        for s in r["survived"]:
            text += [f"Survived in {r['name']}: {r['module']} line {s['line']}, {s['operator']} "
                     f"(occurrence {s['occurrence']})", "```diff", (s["diff"] or "").strip(), "```", ""]
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default=str(ROOT / "tools" / "mutation_targets.toml"))
    parser.add_argument("--rev", default="HEAD", help="commit to test (default HEAD; uncommitted work is not seen)")
    parser.add_argument("--only", nargs="*", default=(), help="target names (prefixes) to run, in this order")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--count", action="store_true", help="only count the mutants (and time the tests)")
    parser.add_argument("--work", help="keep the sessions here (an interrupted run continues where it stopped)")
    parser.add_argument("--recheck", action="store_true", help="with --work: re-run the survivors of the sessions "
                        "kept there against this revision's tests (after tests were added)")
    args = parser.parse_args(argv)
    targets = tomllib.loads(Path(args.targets).read_text())["target"]
    if args.only:
        targets = [t for o in args.only for t in targets if t["name"].startswith(o)]  # in the order given
    python = sys.executable
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="2", PYTHONDONTWRITEBYTECODE="1")
    rev = run(["git", "rev-parse", "--short", args.rev], ROOT, env).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="aes_mutation_") as tmp:
        tree = Path(tmp) / "tree"
        work = Path(args.work) if args.work else Path(tmp) / "work"
        work.mkdir(parents=True, exist_ok=True)
        run(["git", "worktree", "add", "--detach", str(tree), rev], ROOT, env)
        try:
            results = []
            for target in targets:
                if args.recheck:
                    results.append(recheck(target, tree, python, env, work))
                else:
                    results.append(run_target(target, tree, python, env, work, args.count))
                (work / "results.json").write_text(json.dumps({"rev": rev, "results": results}, indent=1))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    print(report(results, rev))
    if args.json:
        Path(args.json).write_text(json.dumps({"rev": rev, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
