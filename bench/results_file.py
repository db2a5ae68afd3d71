"""Where benchmark scripts keep their figures: one markdown file per script, newest run appended."""

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def append_results(name: str, lines: list[str]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.md"
    with open(path, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path
