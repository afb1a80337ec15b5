"""`.env.example` is what a new user copies to `.env`: its defaults must not write into tracked files."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _example_values() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_local_helpdesk_dir_is_an_ignored_copy_not_the_tracked_demo_tickets():
    folder = Path(_example_values()["LOCAL_HELPDESK_DIR"])
    ignored = [line.strip().rstrip("/") for line in (ROOT / ".gitignore").read_text().splitlines() if line.strip()]
    assert folder.parts[0] in ignored, f"{folder} is not under a git-ignored folder"
    assert not folder.is_relative_to("demo")
