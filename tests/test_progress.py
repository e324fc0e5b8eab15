"""Progress lines: rate and time left while running, a final line always, nothing in between."""

from dalib.progress import ProgressLine


def test_lines_every_interval_and_at_the_end() -> None:
    lines: list[str] = []
    quiet = ProgressLine(lines.append, "books", 10, "reviews", every=3600)
    for done in (2, 5, 10):
        quiet.update(done)
    assert len(lines) == 1 and lines[0].startswith("  books: 10/10 reviews, ") and "left" not in lines[0]
    lines.clear()
    chatty = ProgressLine(lines.append, "dvd", 4, "images", every=0)
    chatty.update(1)
    chatty.update(4)
    assert lines[0].startswith("  dvd: 1/4 images, ") and lines[0].endswith(" s left") and len(lines) == 2
