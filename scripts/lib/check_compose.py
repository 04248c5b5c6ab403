"""Holds the rendered compose files (`docker compose config` output) to the spec.

    python3 scripts/lib/check_compose.py ROOT DEV_RENDERED PROD_RENDERED

Exits 1 listing every problem found. Called by scripts/check-compose.sh.
"""
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(sys.argv[1])
# The spec's ports; each service runs the binary of its name.
PORTS = {"api": "5000", "realtime": "5001", "invalidator": "5002"}
problems = []


def check(ok, message):
    if not ok:
        problems.append(message)


def documented_variables():
    """Every `NAME` in the first column of the README's Configuration table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_column = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_column))
    return names


def seconds(duration):
    match = re.fullmatch(r"(\d+)s", str(duration))
    return int(match.group(1)) if match else None


def check_service(file, name, svc, known):
    where = f"{file}: {name}"
    command = svc.get("command") or []
    check(command == [f"skillup-{name}"], f"{where}: command {command} is not [skillup-{name}]")
    env = svc.get("environment") or {}
    check(env.get("PORT") == PORTS[name], f"{where}: PORT {env.get('PORT')} is not {PORTS[name]}")
    for var in env:
        check(var in known, f"{where}: {var} is not a documented variable (README.md, Configuration)")
    for var in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "REDIS_KEY_PREFIX"):
        check(env.get(var), f"{where}: {var} is not set")
    test = " ".join((svc.get("healthcheck") or {}).get("test") or [])
    # Docker's health check is liveness: Swarm restarts a container that fails
    # it, and a restart mends no Postgres or Redis outage (readiness is /readyz).
    check(
        f"http://localhost:{PORTS[name]}/livez" in test,
        f"{where}: health check {test!r} does not ask /livez on {PORTS[name]}",
    )
    build = svc.get("build") or {}
    dockerfile = Path(str(build.get("context", ""))) / str(build.get("dockerfile", ""))
    check(dockerfile.is_file(), f"{where}: Dockerfile {dockerfile} does not exist")


def main():
    known = documented_variables()
    dev = yaml.safe_load(Path(sys.argv[2]).read_text())["services"]
    prod = yaml.safe_load(Path(sys.argv[3]).read_text())["services"]

    check(set(dev) == {"postgres", "redis", "seed", *PORTS}, f"dev services: {sorted(dev)}")
    check(set(prod) == set(PORTS), f"prod services: {sorted(prod)}")
    for name in PORTS:
        for file, services in (("dev", dev), ("prod", prod)):
            if name in services:
                check_service(file, name, services[name], known)

    # dev: the databases report healthy before anything that needs them starts.
    for name in ("postgres", "redis"):
        check((dev.get(name) or {}).get("healthcheck"), f"dev: {name} has no health check")
    for name in ("seed", *PORTS):
        depends = (dev.get(name) or {}).get("depends_on") or {}
        for db in ("postgres", "redis"):
            condition = depends.get(db, {}).get("condition") if isinstance(depends, dict) else None
            check(condition == "service_healthy", f"dev: {name} does not wait for a healthy {db}")
    check(
        (dev.get("seed") or {}).get("command", [])[:1] == ["skillupctl"],
        "dev: seed does not run skillupctl",
    )

    # prod: the shape docs/operations.md promises, and Docker's SIGKILL after our grace.
    for name, replicas in (("api", 2), ("realtime", 2), ("invalidator", 1)):
        svc = prod.get(name) or {}
        got = (svc.get("deploy") or {}).get("replicas")
        check(got == replicas, f"prod: {name} has {got} replicas, docs/operations.md says {replicas}")
        grace = seconds(svc.get("stop_grace_period", "10s"))
        check(
            grace is not None and grace > 10,
            f"prod: {name} stop_grace_period must exceed SHUTDOWN_GRACE_SECS (10)",
        )
        env = svc.get("environment") or {}
        check(env.get("DATABASE_URL") == "postgres://db/skillup", f"prod: {name} DATABASE_URL not from the environment")
        check(env.get("REDIS_URL") == "rediss://cache:6380", f"prod: {name} REDIS_URL not from the environment")

    if problems:
        print("compose files do not match the spec:", *problems, sep="\n  ", file=sys.stderr)
        sys.exit(1)
    print(f"compose files match the spec ({len(dev)} dev services, {len(prod)} prod services)")


main()
