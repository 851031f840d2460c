"""Hold the layering of docs/architecture.md: the pure core imports no I/O, clocks or logging.

Run by .ci/run; exits 1 and names each offending import. Reads the source with `ast`,
so nothing is imported or executed.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "smscd"

# Modules (relative to smscd) that must stay pure: L0 and L1.
PURE = {
    "smpp": "L0",
    "sms": "L0",
    "status.py": "L1",
    "receipt.py": "L1",
    "message.py": "L1",
    "config.py": "L1",
    "clock.py": "L1",
    "accounts.py": "L1",
    "routing.py": "L1",
    "carriers/model.py": "L1",
    "carriers/profile.py": "L1",
    "carriers/scenario.py": "L1",
}
FORBIDDEN = {
    "trio",
    "socket",
    "time",
    "structlog",
    "click",
    "asyncio",
    "hypercorn",
    "starlette",
    "selectors",
    "ssl",
    "threading",
}
# L0 packages are independent of each other and of everything above them.
L0_ALLOWED_SMSCD = {"smpp": {"smscd.smpp"}, "sms": {"smscd.sms"}}
L1_ALLOWED_SMSCD = {
    "smscd.smpp",
    "smscd.sms",
    "smscd.status",
    "smscd.receipt",
    "smscd.message",
    "smscd.config",
    "smscd.clock",
    "smscd.accounts",
    "smscd.routing",
    "smscd.carriers.model",
    "smscd.carriers.profile",
    "smscd.carriers.scenario",
}


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def check() -> list[str]:
    problems: list[str] = []
    for name, layer in PURE.items():
        target = SRC / name
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        for path in files:
            for line, module in imports(path):
                top = module.split(".")[0]
                where = f"{path.relative_to(SRC.parent.parent)}:{line}"
                if top in FORBIDDEN:
                    problems.append(f"{where}: {layer} module imports {module}")
                if top == "smscd":
                    allowed = L0_ALLOWED_SMSCD.get(name) if layer == "L0" else L1_ALLOWED_SMSCD
                    assert allowed is not None
                    if not any(module == a or module.startswith(a + ".") for a in allowed):
                        problems.append(f"{where}: {layer} module imports {module}")
    return problems


def main() -> int:
    problems = check()
    for problem in problems:
        print(problem)
    print(f"layers: {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
