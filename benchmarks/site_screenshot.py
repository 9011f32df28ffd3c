"""Screenshot of the published site's overview, for the README (docs/leaderboard-overview.png).

    python benchmarks/site_screenshot.py --results results --out docs/leaderboard-overview.png

Publishes the site from ``--results`` into a temporary folder, opens the newest version of ``--suite``
in headless Chromium and saves the top of its page (the overview) as a small palette PNG.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from xrec_bench.leaderboard.site import discover, publish


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results")
    parser.add_argument("--suite", default="quick")
    parser.add_argument("--out", default="docs/leaderboard-overview.png")
    parser.add_argument("--size", default="1100,1250", help="browser window WIDTH,HEIGHT")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("headless chromium is needed (Debian package 'chromium').")
    newest = discover(args.results)[args.suite][0]
    with tempfile.TemporaryDirectory() as tmp:
        publish(args.results, Path(tmp) / "site", plots=False)
        page = Path(tmp) / "site" / newest.href
        shot = Path(tmp) / "shot.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={Path(tmp) / 'profile'}", f"--window-size={args.size}",
                        f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=180)
        image = Image.open(shot).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        image.save(args.out, optimize=True)
    print(f"{args.out}: overview of {args.suite} v{newest.version}")


if __name__ == "__main__":
    main()
