"""`.env.example` is what a new user copies to `.env`: its defaults must not write into tracked files."""
from pathlib import Path

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[2]


def _example_values() -> dict[str, str]:
    return {key: value or "" for key, value in dotenv_values(ROOT / ".env.example").items()}


def test_local_helpdesk_dir_is_an_ignored_copy_not_the_tracked_demo_tickets():
    folder = Path(_example_values()["LOCAL_HELPDESK_DIR"])
    ignored = [line.strip().rstrip("/") for line in (ROOT / ".gitignore").read_text().splitlines() if line.strip()]
    assert folder.parts[0] in ignored, f"{folder} is not under a git-ignored folder"
    assert not folder.is_relative_to("demo")


def test_the_settings_default_is_the_same_ignored_folder():
    from worker.settings import Settings

    assert Settings(_env_file=None).local_helpdesk_dir == Path(_example_values()["LOCAL_HELPDESK_DIR"])
